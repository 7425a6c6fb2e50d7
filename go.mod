module github.com/tlspake/pake

go 1.26.0

require (
	filippo.io/cpace v0.0.0-20200503185815-340c58da85ed
	filippo.io/edwards25519 v1.2.0
	github.com/makiuchi-d/gozxing v0.1.1
	github.com/refraction-networking/utls v1.8.2
	github.com/skip2/go-qrcode v0.0.0-20200617195104-da1b6568686e
	golang.org/x/crypto v0.59.0
	golang.org/x/image v0.48.0
)

require (
	github.com/andybalholm/brotli v1.0.6 // indirect
	github.com/gtank/ristretto255 v0.1.2 // indirect
	github.com/klauspost/compress v1.17.4 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	golang.org/x/xerrors v0.0.0-20200804184101-5ec99f83aff1 // indirect
)
