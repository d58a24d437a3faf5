package correlate

import "testing"

// isMachine tells addresses (IPv4 or IPv6, with or without a port) and
// cloud host names from workloads' names.
func TestIsMachine(t *testing.T) {
	for v, want := range map[string]bool{
		"10.0.3.7": true, "10.0.3.7:9100": true, "fe80::1": true, "[fe80::1]:9100": true, "2001:db8::8a2e:370:7334": true,
		"ip-10-2-69-14": true, "ip-10-2-69-14.ec2.internal": true,
		"cart": false, "cart-7d9f8b6c5-x2k4p": false, "deadbeef": false, "1password-agent": false, "": false, "ip-address": false,
	} {
		if got := isMachine(v); got != want {
			t.Errorf("isMachine(%q) = %v, want %v", v, got, want)
		}
	}
}
