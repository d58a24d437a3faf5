package clickhouse

import "testing"

// consume keeps the queue's order either way it drops a head (moving the
// rest to the front, or slicing past the head when more remain than went),
// and its array keeps nothing of what was dropped.
func TestConsume(t *testing.T) {
	for _, n := range []int{0, 1, 3, 5, 6} {
		q := make([]*int, 6, 8)
		for i := range q {
			q[i] = new(int)
			*q[i] = i
		}
		array := q[:cap(q)]
		got := consume(q, n)
		if len(got) != 6-n {
			t.Fatalf("consume(6 items, %d) left %d", n, len(got))
		}
		for i, p := range got {
			if *p != n+i {
				t.Errorf("consume(6 items, %d): item %d is %d, want %d", n, i, *p, n+i)
			}
		}
		held := 0
		for _, p := range array {
			if p != nil {
				held++
			}
		}
		if held != len(got) {
			t.Errorf("consume(6 items, %d): the array holds %d items, want only the %d left", n, held, len(got))
		}
	}
}
