package vfs

import "time"

func syncDeadline() <-chan time.Time { return time.After(time.Second) }
