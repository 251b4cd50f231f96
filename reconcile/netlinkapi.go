package reconcile

import "github.com/vishvananda/netlink"

// netlinkHandle is the part of *netlink.Handle that netlab uses: every netlink call
// reconcile makes goes through it, one handle per namespace. A test puts a recorder in
// its place that writes each call as the `ip` command it amounts to, and checks that
// what reconcile sends the kernel is what the plan's own commands say, without root.
type netlinkHandle interface {
	LinkList() ([]netlink.Link, error)
	LinkByName(name string) (netlink.Link, error)
	LinkAdd(link netlink.Link) error
	LinkDel(link netlink.Link) error
	LinkSetUp(link netlink.Link) error
	LinkSetDown(link netlink.Link) error
	LinkSetAlias(link netlink.Link, alias string) error
	LinkSetMTU(link netlink.Link, mtu int) error
	LinkSetTxQLen(link netlink.Link, qlen int) error
	LinkSetMasterByIndex(link netlink.Link, masterIndex int) error
	LinkSetNoMaster(link netlink.Link) error
	AddrList(link netlink.Link, family int) ([]netlink.Addr, error)
	AddrAdd(link netlink.Link, addr *netlink.Addr) error
	AddrDel(link netlink.Link, addr *netlink.Addr) error
	RouteListFiltered(family int, filter *netlink.Route, filterMask uint64) ([]netlink.Route, error)
	RouteAdd(route *netlink.Route) error
	RouteReplace(route *netlink.Route) error
	RouteDel(route *netlink.Route) error
	NeighList(linkIndex, family int) ([]netlink.Neigh, error)
	NeighAppend(neigh *netlink.Neigh) error
	QdiscList(link netlink.Link) ([]netlink.Qdisc, error)
	QdiscReplace(qdisc netlink.Qdisc) error
	QdiscDel(qdisc netlink.Qdisc) error
	GetNetNsIdByFd(fd int) (int, error)
	Close()
}

var _ netlinkHandle = (*netlink.Handle)(nil)
