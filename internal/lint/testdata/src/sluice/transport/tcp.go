package transport

import "time"

func dialLoop() {
	go func() { time.Sleep(time.Millisecond) }()
}
