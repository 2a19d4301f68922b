// Package deepcopy copies a value with everything it reaches, for tests
// that prove a decision pure: copy its input, decide, and compare the
// input with the copy (a shallow copy shares its maps, and a decision that
// wrote into one would go unnoticed). It reaches unexported fields through
// package unsafe, which is why nothing but tests should use it.
package deepcopy
