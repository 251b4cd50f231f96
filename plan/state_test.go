package plan

import (
	"net/netip"
	"testing"
)

func TestHasIPv6(t *testing.T) {
	link := LinkKey{NS: "n1", Name: "e1"}
	tests := []struct {
		name string
		set  func(s State)
		want bool
	}{
		{"empty", func(State) {}, false},
		{"IPv4 address and route", func(s State) {
			s.Addrs[AddrKey{link, netip.MustParsePrefix("10.0.0.2/30")}] = true
			s.Routes[RouteKey{NS: "n1", To: netip.MustParsePrefix("0.0.0.0/0")}] = Route{Via: netip.MustParseAddr("10.0.0.1")}
		}, false},
		{"IPv6 address", func(s State) { s.Addrs[AddrKey{link, netip.MustParsePrefix("2001:db8::2/64")}] = true }, true},
		{"IPv6 route", func(s State) { s.Routes[RouteKey{NS: "n1", To: netip.MustParsePrefix("::/0")}] = Route{Dev: "e1"} }, true},
		{"IPv6 gateway", func(s State) {
			s.Routes[RouteKey{NS: "n1", To: netip.MustParsePrefix("2001:db8:1::/48")}] = Route{Via: netip.MustParseAddr("fe80::1")}
		}, true},
		{"IPv6 NAT", func(s State) { s.NAT[NATRule{NS: Host, Source: netip.MustParsePrefix("fd00::/8")}] = true }, true},
		{"IPv6 underlay", func(s State) {
			s.Links[link] = Link{Kind: Vxlan, Local: netip.MustParseAddr("2001:db8::1"), Remote: netip.MustParseAddr("2001:db8::2")}
		}, true},
		{"IPv6 flood", func(s State) {
			s.Links[link] = Link{Kind: Vxlan, Flood: []netip.Addr{netip.MustParseAddr("2001:db8::3")}}
		}, true},
		{"IPv4 underlay", func(s State) {
			s.Links[link] = Link{Kind: Vxlan, Local: netip.MustParseAddr("192.0.2.1"), Flood: []netip.Addr{netip.MustParseAddr("192.0.2.2")}}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewState()
			tt.set(s)
			if got := s.HasIPv6(); got != tt.want {
				t.Errorf("HasIPv6() = %v, want %v", got, tt.want)
			}
		})
	}
}
