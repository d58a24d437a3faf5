package ingest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/dedupe"
)

// countingBus accepts every batch and counts the alerts.
type countingBus struct{ n atomic.Int64 }

func (b *countingBus) Publish(_ context.Context, alerts []quell.Alert) error {
	b.n.Add(int64(len(alerts)))
	return nil
}

// TestSlowBodiesCostOnlyTheirSender holds 100 connections from one address
// that announce a 100 kB body and send a byte every 100 ms, against 4
// request slots. A normal sender on another address keeps getting 2xx:
// slots are taken only once a body has arrived, the slow address may have
// only max_bodies_per_client bodies arriving, and each is cut off once it
// falls below min_body_rate.
func TestSlowBodiesCostOnlyTheirSender(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConcurrentRequests = 4
	cfg.BodyTimeout, cfg.MinBodyRate = time.Second, 1024
	pub := &countingBus{}
	h, err := NewHandler(cfg, pub, dedupe.NewFingerprinter(nil), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTest(t, cfg, h)

	var mu sync.Mutex
	slowAnswers := map[int]int{}
	stop := make(chan struct{})
	var slow sync.WaitGroup
	for range 100 {
		slow.Go(func() {
			status := slowBody(t, addr, stop)
			mu.Lock()
			slowAnswers[status]++
			mu.Unlock()
		})
	}
	time.Sleep(300 * time.Millisecond) // the slow bodies are arriving

	body := `[{"labels":{"alertname":"Normal","n":"%d"}}]`
	deadline := time.Now().Add(2500 * time.Millisecond)
	sent := 0
	for time.Now().Before(deadline) {
		sent++
		resp, err := http.Post("http://"+addr+PathAlertsV2, "application/json", strings.NewReader(fmt.Sprintf(body, sent)))
		if err != nil {
			t.Fatalf("normal request %d: %v", sent, err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("normal request %d during the slow bodies: %s %s", sent, resp.Status, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	slow.Wait()
	if got := pub.n.Load(); got != int64(sent) {
		t.Errorf("%d alerts published, want the %d the normal sender sent", got, sent)
	}
	t.Logf("normal sender: %d requests, all 200; slow connections answered %v", sent, slowAnswers)
	if slowAnswers[http.StatusRequestTimeout] == 0 || slowAnswers[http.StatusServiceUnavailable] == 0 ||
		slowAnswers[http.StatusRequestTimeout]+slowAnswers[http.StatusServiceUnavailable] != 100 {
		t.Errorf("slow connections answered %v; want 408 (too slow) for those being read and 503 for those beyond max_bodies_per_client", slowAnswers)
	}
}

// slowBody connects from 127.0.0.2, announces a 100 kB body, sends a byte
// every 100 ms until answered or stopped, and returns the answer's status
// (0 without one).
func slowBody(t *testing.T, addr string, stop chan struct{}) int {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Errorf("slow connection: %v", err)
		return 0
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: quell\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[", PathAlertsV2)
	answered := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case status := <-answered:
			return status
		case <-stop:
			return 0
		case <-tick.C:
			conn.Write([]byte(" "))
		}
	}
}
