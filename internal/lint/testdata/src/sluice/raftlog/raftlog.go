// Package raftlog is a core that stays within the rules.
package raftlog

import "sluice/raftlog/vfs"

// Log is a core value.
type Log struct{ fs vfs.FS }
