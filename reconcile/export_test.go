package reconcile

// Masquerade is masquerade, for the tests of package reconcile_test.
var Masquerade = masquerade
