package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
)

// stateJSON is the JSON form of a State: sorted lists, since its maps have struct keys.
// It is what the ownership record stores and what a saved plan's fingerprint hashes.
// MarshalJSON writes it whole; DecodeState reads it back field by field (decodeField),
// and TestDecodeFieldKnowsEveryField keeps the two in step.
type stateJSON struct {
	Namespaces []NS         `json:"namespaces"`
	Links      []linkJSON   `json:"links"`
	Addrs      []addrJSON   `json:"addresses"`
	Routes     []routeJSON  `json:"routes"`
	Sysctls    []sysctlJSON `json:"sysctls"`
	NAT        []natJSON    `json:"nat"`
	Files      []fileJSON   `json:"files,omitempty"`
	Attached   []attachJSON `json:"attached,omitempty"`
	// Observed only; part of a saved plan's fingerprint.
	Entries    []entryJSON `json:"entries,omitempty"`
	SourceGone []NS        `json:"source_gone,omitempty"`
	Qdiscs     []qdiscJSON `json:"qdiscs,omitempty"`
	// Observed only.
	MissingQdiscs map[string]string `json:"missing_qdiscs,omitempty"`
	PlainNAT      []natJSON         `json:"plain_nat,omitempty"`
	VethPeers     []vethPeerJSON    `json:"veth_peers,omitempty"`
	MarkedFiles   []jsonNSName      `json:"marked_files,omitempty"`
}

// vethPeerJSON is a veth end with the end the kernel pairs it with ("" when elsewhere).
type vethPeerJSON struct {
	NS   NS      `json:"ns"`
	Name string  `json:"name"`
	Peer LinkKey `json:"peer"`
}

type qdiscJSON struct {
	NS   NS     `json:"ns"`
	Name string `json:"name"`
	Qdisc
}

type entryJSON struct {
	NS    NS    `json:"ns"`
	Found Entry `json:"found"`
}

type attachJSON struct {
	NS     NS     `json:"ns"`
	Source string `json:"source"`
}

type fileJSON struct {
	NS      NS     `json:"ns"`
	Name    string `json:"name"`
	Content string `json:"content"`
}

// linkJSON is a link with its key: the one JSON form of a Link, as a plan's before and
// after give it, beside the key.
type linkJSON struct {
	NS   NS     `json:"ns"`
	Name string `json:"name"`
	Link
	// Read from records of format version 1, which spelled the peer and the parent out
	// and kept the peer's master, now the peer's own Master; never written.
	PeerNS     NS     `json:"peer_ns,omitempty"`
	PeerName   string `json:"peer_name,omitempty"`
	PeerMaster string `json:"peer_master,omitempty"`
	ParentNS   NS     `json:"parent_ns,omitempty"`
	ParentName string `json:"parent_name,omitempty"`
}

type addrJSON struct {
	NS     NS           `json:"ns"`
	Link   string       `json:"link"`
	Prefix netip.Prefix `json:"prefix"`
}

type routeJSON struct {
	NS     NS           `json:"ns"`
	To     netip.Prefix `json:"to"`
	Metric int          `json:"metric,omitempty"`
	Via    netip.Addr   `json:"via"`
	Dev    string       `json:"dev,omitempty"`
}

type sysctlJSON struct {
	NS    NS     `json:"ns"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

type natJSON struct {
	NS     NS           `json:"ns"`
	Source netip.Prefix `json:"source"`
	Out    string       `json:"out,omitempty"`
}

// MarshalJSON writes the state as sorted lists, so equal states give equal bytes.
func (s State) MarshalJSON() ([]byte, error) {
	j := stateJSON{Namespaces: sortedKeys(s.Namespaces, compareNS)}
	for _, k := range sortedKeys(s.Links, compareLinkKey) {
		j.Links = append(j.Links, linkJSON{NS: k.NS, Name: k.Name, Link: s.Links[k]})
	}
	for _, k := range sortedKeys(s.Addrs, compareAddrKey) {
		j.Addrs = append(j.Addrs, addrJSON{NS: k.Link.NS, Link: k.Link.Name, Prefix: k.Prefix})
	}
	for _, k := range sortedKeys(s.Routes, compareRouteKey) {
		j.Routes = append(j.Routes, routeJSON{NS: k.NS, To: k.To, Metric: k.Metric, Via: s.Routes[k].Via, Dev: s.Routes[k].Dev})
	}
	for _, k := range sortedKeys(s.Sysctls, compareSysctlKey) {
		j.Sysctls = append(j.Sysctls, sysctlJSON{NS: k.NS, Name: k.Name, Value: s.Sysctls[k]})
	}
	for _, r := range sortedKeys(s.NAT, compareNATRule) {
		j.NAT = append(j.NAT, natJSON(r))
	}
	for _, k := range sortedKeys(s.Files, compareFileKey) {
		j.Files = append(j.Files, fileJSON{NS: k.NS, Name: k.Name, Content: s.Files[k]})
	}
	for _, ns := range sortedKeys(s.Attached, compareNS) {
		j.Attached = append(j.Attached, attachJSON{NS: ns, Source: s.Attached[ns]})
	}
	for _, ns := range sortedKeys(s.Entries, compareNS) {
		j.Entries = append(j.Entries, entryJSON{NS: ns, Found: s.Entries[ns]})
	}
	j.SourceGone = sortedKeys(s.SourceGone, compareNS)
	for _, k := range sortedKeys(s.Qdiscs, compareLinkKey) {
		j.Qdiscs = append(j.Qdiscs, qdiscJSON{NS: k.NS, Name: k.Name, Qdisc: s.Qdiscs[k]})
	}
	if len(s.MissingQdiscs) > 0 {
		j.MissingQdiscs = s.MissingQdiscs
	}
	for _, r := range sortedKeys(s.PlainNAT, compareNATRule) {
		j.PlainNAT = append(j.PlainNAT, natJSON(r))
	}
	for _, k := range sortedKeys(s.VethPeers, compareLinkKey) {
		j.VethPeers = append(j.VethPeers, vethPeerJSON{NS: k.NS, Name: k.Name, Peer: s.VethPeers[k]})
	}
	for _, k := range sortedKeys(s.MarkedFiles, compareFileKey) {
		j.MarkedFiles = append(j.MarkedFiles, jsonNSName(k))
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a state written by MarshalJSON.
func (s *State) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // an object kind this netlab does not know is refused, not dropped
	state, _, err := DecodeState(dec)
	*s = state
	return err
}

// DecodeState reads the next value of dec, a state written by MarshalJSON, or null
// (present false): the ownership record reads its owned state so, in the one pass over
// the file that decoding it takes, rather than as a copy of its bytes first. Each list
// is read an element at a time into the State's maps, never whole into a slice: a
// record of a thousand namespaces holds thousands of links, addresses and files, whose
// slices, grown as they were read, once took half of decoding it. A field of the
// state this netlab does not know, or one given twice, is refused, not dropped; an
// unknown field of a list's element is refused when dec's caller asked it to (the
// record and a saved plan do).
func DecodeState(dec *json.Decoder) (state State, present bool, err error) {
	s := NewState()
	present, err = decodeState(dec, &s)
	if err != nil || !present {
		return NewState(), false, err
	}
	return s, true, nil
}

// decodeState reads a state into s and reports whether there was one (not null).
func decodeState(dec *json.Decoder, s *State) (bool, error) {
	t, err := dec.Token()
	switch {
	case err != nil:
		return false, fmt.Errorf("decode state: %w", err)
	case t == nil:
		return false, nil
	case t != json.Delim('{'):
		return false, fmt.Errorf("decode state: a state is a JSON object, not %v", t)
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false, fmt.Errorf("decode state: %w", err)
		}
		key, _ := t.(string)
		if seen[key] {
			return false, fmt.Errorf("decode state: field %q given twice", key)
		}
		seen[key] = true
		known, err := decodeField(dec, key, s)
		if !known {
			return false, fmt.Errorf("decode state: unknown field %q", key)
		}
		if err != nil {
			return false, fmt.Errorf("decode state: %s: %w", key, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return false, fmt.Errorf("decode state: %w", err)
	}
	return true, nil
}

// decodeField reads the value of the state's field key into s; known is false for a
// field a state does not have.
func decodeField(dec *json.Decoder, key string, s *State) (known bool, err error) {
	switch key {
	case "namespaces":
		return true, each(dec, func(ns NS) { s.Namespaces[ns] = true })
	case "links":
		return true, each(dec, func(l linkJSON) {
			if l.PeerNS != "" {
				l.Peer = LinkKey{l.PeerNS, l.PeerName}
			}
			if l.ParentNS != "" {
				l.Parent = LinkKey{l.ParentNS, l.ParentName}
			}
			s.Links[LinkKey{l.NS, l.Name}] = l.Link
		})
	case "addresses":
		return true, each(dec, func(a addrJSON) { s.Addrs[AddrKey{LinkKey{a.NS, a.Link}, a.Prefix}] = true })
	case "routes":
		return true, each(dec, func(r routeJSON) { s.Routes[RouteKey{r.NS, r.To, r.Metric}] = Route{Via: r.Via, Dev: r.Dev} })
	case "sysctls":
		return true, each(dec, func(c sysctlJSON) { s.Sysctls[SysctlKey{c.NS, c.Name}] = c.Value })
	case "nat":
		return true, each(dec, func(r natJSON) { s.NAT[NATRule(r)] = true })
	case "files":
		return true, each(dec, func(f fileJSON) { s.Files[FileKey{f.NS, f.Name}] = f.Content })
	case "attached":
		return true, each(dec, func(a attachJSON) { s.Attached[a.NS] = a.Source })
	case "entries":
		return true, each(dec, func(e entryJSON) { s.Entries[e.NS] = e.Found })
	case "source_gone":
		return true, each(dec, func(ns NS) { s.SourceGone[ns] = true })
	case "qdiscs":
		return true, each(dec, func(q qdiscJSON) { s.Qdiscs[LinkKey{q.NS, q.Name}] = q.Qdisc })
	case "missing_qdiscs":
		var m map[string]string
		err := dec.Decode(&m)
		maps.Copy(s.MissingQdiscs, m)
		return true, err
	case "plain_nat":
		return true, each(dec, func(r natJSON) { s.PlainNAT[NATRule(r)] = true })
	case "veth_peers":
		return true, each(dec, func(v vethPeerJSON) { s.VethPeers[LinkKey{v.NS, v.Name}] = v.Peer })
	case "marked_files":
		return true, each(dec, func(k jsonNSName) { s.MarkedFiles[FileKey(k)] = true })
	}
	return false, nil
}

// each reads a JSON list (or null) from dec an element at a time, handing each to add.
func each[T any](dec *json.Decoder, add func(T)) error {
	t, err := dec.Token()
	switch {
	case err != nil:
		return err
	case t == nil:
		return nil
	case t != json.Delim('['):
		return fmt.Errorf("a list, not %v", t)
	}
	for dec.More() {
		var v T
		if err := dec.Decode(&v); err != nil {
			return err
		}
		add(v)
	}
	_, err = dec.Token() // the closing bracket
	return err
}
