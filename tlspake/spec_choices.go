package tlspake

// Where PROFILE.md (version 1) conflicts with the specifications it cites,
// this package follows the specification. Each such choice is one named
// value in this file, so that it can be found, discussed, and changed in
// one line if the profile is amended.

// alertPAKEInHelloRetryRequest answers a HelloRetryRequest that carries
// the pake extension. PROFILE.md's alert table says unsupported_extension.
// RFC 8446 section 4.2 requires illegal_parameter for an extension the
// receiver recognises in a message where it is not specified: the client
// offered pake, and draft-ietf-tls-pake defines it only for ClientHello
// and ServerHello. Section 4.1.4's unsupported_extension covers extensions
// the client did not offer, which is not this case.
const alertPAKEInHelloRetryRequest = AlertIllegalParameter
