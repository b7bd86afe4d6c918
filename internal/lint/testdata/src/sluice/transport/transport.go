// Package transport has a core part and a TCP part (tcp.go, transport/tcp).
package transport

// GroupID names a raft group.
type GroupID struct{ Partition int32 }
