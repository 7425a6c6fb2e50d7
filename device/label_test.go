package device

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/tlspake/pake/tlspake/paircode"
)

// testLabel is a fixed label. The code is fixed too: gozxing, the test's
// decoder, misreads about 0.3% of QR codes that other decoders (zbar)
// read, so a random code would make the test flaky.
func testLabel(t *testing.T) Label {
	t.Helper()
	code, err := paircode.Generate(bytes.NewReader([]byte("label-test")))
	if err != nil {
		t.Fatal(err)
	}
	return Label{
		Invite: paircode.Invite{Code: code, Identity: "printer-1", Addr: "192.168.1.20:8443"},
		Name:   `Demo <printer> & "co"`,
	}
}

// decodeQR reads the QR code in img with an independent decoder.
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("decoding the QR code: %v", err)
	}
	return res.GetText()
}

type svgDoc struct {
	XMLName xml.Name `xml:"http://www.w3.org/2000/svg svg"`
	Width   int      `xml:"width,attr"`
	Height  int      `xml:"height,attr"`
	ViewBox string   `xml:"viewBox,attr"`
	Rects   []struct {
		Width  int    `xml:"width,attr"`
		Height int    `xml:"height,attr"`
		Fill   string `xml:"fill,attr"`
	} `xml:"rect"`
	Paths []struct {
		D    string `xml:"d,attr"`
		Fill string `xml:"fill,attr"`
	} `xml:"path"`
	Texts []string `xml:"text"`
}

func TestLabelSVG(t *testing.T) {
	lb := testLabel(t)
	b, err := lb.SVG()
	if err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, token by token, in strict mode.
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, b)
		}
	}
	var doc svgDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("SVG does not parse: %v", err)
	}
	if doc.Width <= 0 || doc.Height <= doc.Width || doc.ViewBox != "0 0 "+strconv.Itoa(doc.Width)+" "+strconv.Itoa(doc.Height) {
		t.Fatalf("SVG geometry: width %d height %d viewBox %q", doc.Width, doc.Height, doc.ViewBox)
	}
	if len(doc.Texts) != 2 || doc.Texts[0] != lb.Invite.Code.Printed() || doc.Texts[1] != lb.Name {
		t.Fatalf("SVG texts %q, want the printed code and %q", doc.Texts, lb.Name)
	}
	if len(doc.Paths) != 1 {
		t.Fatalf("SVG has %d paths, want 1", len(doc.Paths))
	}

	// Rasterize the QR path (unit squares "Mx yhNvNh-Nz") and decode it.
	sq := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v(\d+)h-(\d+)z`)
	d := doc.Paths[0].D
	if rest := sq.ReplaceAllString(d, ""); rest != "" {
		t.Fatalf("unexpected path data: %q", rest)
	}
	img := image.NewGray(image.Rect(0, 0, doc.Width, doc.Height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	for _, m := range sq.FindAllStringSubmatch(d, -1) {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		s, _ := strconv.Atoi(m[3])
		draw.Draw(img, image.Rect(x, y, x+s, y+s), image.Black, image.Point{}, draw.Src)
	}
	if got, want := decodeQR(t, img), lb.Invite.URI(); got != want {
		t.Fatalf("SVG QR code reads %q, want %q", got, want)
	}

	// Without a name there is just the code.
	b, err = Label{Invite: lb.Invite}.SVG()
	if err != nil {
		t.Fatal(err)
	}
	doc = svgDoc{}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Texts) != 1 || doc.Texts[0] != lb.Invite.Code.Printed() {
		t.Fatalf("nameless SVG texts %q", doc.Texts)
	}
}

func TestLabelPNG(t *testing.T) {
	lb := testLabel(t)
	b, err := lb.PNG()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	svg, err := lb.SVG()
	if err != nil {
		t.Fatal(err)
	}
	var doc svgDoc
	if err := xml.Unmarshal(svg, &doc); err != nil {
		t.Fatal(err)
	}
	// The PNG is the SVG's geometry at twice the size: a square QR area
	// plus the text lines below it.
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	if w != 2*doc.Width || h != 2*doc.Height {
		t.Fatalf("PNG is %dx%d, want twice the SVG's %dx%d", w, h, doc.Width, doc.Height)
	}
	if qr := w/2 - 2*labelMargin; qr <= 0 || qr%labelModule != 0 || h-w != 2*3*labelText {
		t.Fatalf("PNG %dx%d does not have the label's proportions", w, h)
	}
	if r := float64(h) / float64(w); r < 1.1 || r > 1.6 {
		t.Fatalf("PNG aspect ratio %.2f out of range", r)
	}

	// Pixels are black or white, the corners are white (quiet zone), and
	// the text area below the QR code has ink.
	black := 0
	for y := range h {
		for x := range w {
			g := color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y
			if g != 0 && g != 255 {
				t.Fatalf("pixel (%d,%d) is grey %d", x, y, g)
			}
			if g == 0 {
				black++
			}
		}
	}
	for _, p := range []image.Point{{0, 0}, {w - 1, 0}, {0, h - 1}, {w - 1, h - 1}} {
		if color.GrayModel.Convert(img.At(p.X, p.Y)).(color.Gray).Y != 255 {
			t.Fatalf("corner %v is not white", p)
		}
	}
	textInk := 0
	for y := w - labelMargin; y < h; y++ { // below the QR code's own quiet zone
		for x := range w {
			if color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y == 0 {
				textInk++
			}
		}
	}
	if black == 0 || textInk == 0 {
		t.Fatalf("PNG has %d black pixels, %d in the text area", black, textInk)
	}

	if got, want := decodeQR(t, img), lb.Invite.URI(); got != want {
		t.Fatalf("PNG QR code reads %q, want %q", got, want)
	}
}

func TestLabelTerminal(t *testing.T) {
	lb := testLabel(t)
	s, err := lb.Terminal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s, lb.Invite.Code.Printed()) {
		t.Fatal("Terminal prints the code in clear; it should only draw the QR code")
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) < 10 {
		t.Fatalf("Terminal QR code has %d lines:\n%s", len(lines), s)
	}
	width := utf8.RuneCountInString(lines[0])
	// Each character is two modules stacked: upper and lower half.
	halves := map[rune][2]bool{' ': {false, false}, '█': {true, true}, '▀': {true, false}, '▄': {false, true}}
	img := image.NewGray(image.Rect(0, 0, (width+8)*4, (2*len(lines)+8)*4))
	draw.Draw(img, img.Bounds(), image.Black, image.Point{}, draw.Src)
	for y, line := range lines {
		if n := utf8.RuneCountInString(line); n != width {
			t.Fatalf("line %d has %d characters, want %d", y, n, width)
		}
		for x, r := range []rune(line) {
			hv, ok := halves[r]
			if !ok {
				t.Fatalf("unexpected character %q in the terminal QR code", r)
			}
			for i, on := range hv {
				// A block character is lit: on a dark terminal it is light.
				if on {
					px, py := (x+4)*4, (2*y+i+4)*4
					draw.Draw(img, image.Rect(px, py, px+4, py+4), image.White, image.Point{}, draw.Src)
				}
			}
		}
	}
	if got, want := decodeQR(t, img), lb.Invite.URI(); got != want {
		t.Fatalf("terminal QR code reads %q, want %q", got, want)
	}
}

func TestLabelWithoutHints(t *testing.T) {
	// A bare code: the URI is just tlspake:XXXXX-XXXXX.
	lb := Label{Invite: paircode.Invite{Code: testLabel(t).Invite.Code}}
	b, err := lb.PNG()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	got := decodeQR(t, img)
	if want := "tlspake:" + lb.Invite.Code.Printed(); got != want {
		t.Fatalf("QR code reads %q, want %q", got, want)
	}
	inv, err := paircode.ParseURI(got)
	if err != nil || inv.Code != lb.Invite.Code {
		t.Fatalf("decoded URI does not parse back to the code: %v", err)
	}
}
