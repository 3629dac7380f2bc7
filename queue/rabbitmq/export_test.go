package rabbitmq

// Reconnects returns how many times the started broker has reconnected.
func (b *Broker) Reconnects() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.run == nil {
		return 0
	}
	return b.run.reconnects.Load()
}
