package election

// ExpCount returns the modular exponentiations performed so far in the
// groups of this service's elections (eg.Group.ExpCount summed): the work
// of every job this process ran and every check it made, for benchmarks
// that count the exponentiations of a pipeline rather than derive them.
func (s *Service) ExpCount() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n uint64
	for _, g := range s.groups {
		n += g.ExpCount()
	}
	return n
}
