// Package plan is the vocabulary of a pass's plan: the kinds of step the
// slices decide and the Step that carries one, with its reason, its
// progress message and its typed payload. Decisions build steps; the pass
// (internal/charm) runs them in order.
package plan
