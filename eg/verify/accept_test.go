package verify

import "testing"

func TestFixturesVerify(t *testing.T) {
	for _, set := range []string{"minimal", "small"} {
		t.Run(set, func(t *testing.T) {
			r := verifyFixture(t, set)
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			t.Log(r.Summary())
			for _, w := range r.Warnings {
				t.Errorf("warning: %s", w)
			}
		})
	}
}
