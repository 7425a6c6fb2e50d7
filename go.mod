module github.com/tlspake/pake

go 1.26.0

require (
	filippo.io/cpace v0.0.0-20200503185815-340c58da85ed // indirect
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/andybalholm/brotli v1.0.6 // indirect
	github.com/gtank/ristretto255 v0.1.2 // indirect
	github.com/klauspost/compress v1.17.4 // indirect
	github.com/refraction-networking/utls v1.8.2 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
