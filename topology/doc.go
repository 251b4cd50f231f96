// Package topology reads a lab's YAML file into a Topology, checks it, and compiles it
// to the desired plan.State.
//
// It walks the yaml.Node tree itself instead of decoding into structs, so that every
// error carries the file, line and column of the offending value, and parses every
// address with net/netip. yaml.v3's own decoding loses positions (an UnmarshalText
// failure has none, and KnownFields is lost inside Node.Decode). The package is pure Go:
// it never touches the kernel.
package topology
