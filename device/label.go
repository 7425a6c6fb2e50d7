package device

import (
	"bytes"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"

	"github.com/skip2/go-qrcode"
	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/tlspake/pake/tlspake/paircode"
)

// Label is a printable device label: a QR code of the pairing URI, the
// printed code and the device's name. It contains the code: it is a secret
// until it is stuck on the device.
type Label struct {
	Invite paircode.Invite
	// Name is the human name printed on the label, such as "Printer".
	Name string
}

func (l Label) qr() (*qrcode.QRCode, error) {
	q, err := qrcode.New(l.Invite.URI(), qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("device: encoding the QR code: %w", err)
	}
	return q, nil
}

// Terminal returns the QR code drawn with Unicode half blocks, for a
// terminal with a dark background.
func (l Label) Terminal() (string, error) {
	q, err := l.qr()
	if err != nil {
		return "", err
	}
	return q.ToSmallString(false), nil
}

// Label geometry, in pixels at 1x (SVG user units).
const (
	labelModule = 6  // size of one QR module
	labelMargin = 24 // white border
	labelText   = 22 // height of one text line
)

// SVG returns the label as a standalone SVG document.
func (l Label) SVG() ([]byte, error) {
	q, err := l.qr()
	if err != nil {
		return nil, err
	}
	q.DisableBorder = true
	bm := q.Bitmap()
	n := len(bm)
	qrSize := n * labelModule
	w := qrSize + 2*labelMargin
	h := qrSize + 2*labelMargin + 3*labelText
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n<path fill=\"#000\" d=\"", w, h)
	for y, row := range bm {
		for x, on := range row {
			if on {
				fmt.Fprintf(&b, "M%d %dh%dv%dh-%dz", labelMargin+x*labelModule, labelMargin+y*labelModule, labelModule, labelModule, labelModule)
			}
		}
	}
	b.WriteString("\"/>\n")
	ty := labelMargin + qrSize + labelText + 4
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-family="monospace" font-size="22" font-weight="bold" text-anchor="middle">%s</text>`+"\n",
		w/2, ty, html.EscapeString(l.Invite.Code.Printed()))
	if l.Name != "" {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-family="sans-serif" font-size="16" text-anchor="middle">%s</text>`+"\n",
			w/2, ty+labelText+4, html.EscapeString(l.Name))
	}
	b.WriteString("</svg>\n")
	return b.Bytes(), nil
}

// PNG returns the label as a PNG image, at twice the SVG's size.
func (l Label) PNG() ([]byte, error) {
	q, err := l.qr()
	if err != nil {
		return nil, err
	}
	q.DisableBorder = true
	bm := q.Bitmap()
	n := len(bm)
	qrSize := n * labelModule
	w := qrSize + 2*labelMargin
	h := qrSize + 2*labelMargin + 3*labelText
	img := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	for y, row := range bm {
		for x, on := range row {
			if on {
				r := image.Rect(labelMargin+x*labelModule, labelMargin+y*labelModule, labelMargin+(x+1)*labelModule, labelMargin+(y+1)*labelModule)
				draw.Draw(img, r, image.Black, image.Point{}, draw.Src)
			}
		}
	}
	ty := labelMargin + qrSize + labelText
	drawText(img, l.Invite.Code.Printed(), w/2, ty, 2)
	if l.Name != "" {
		drawText(img, l.Name, w/2, ty+labelText+6, 1)
	}
	// Scale up 2x with nearest neighbour so modules stay crisp.
	big := image.NewGray(image.Rect(0, 0, 2*w, 2*h))
	draw.NearestNeighbor.Scale(big, big.Bounds(), img, img.Bounds(), draw.Src, nil)
	var b bytes.Buffer
	if err := png.Encode(&b, big); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// drawText draws s centred at x with its baseline at y, scaled by an
// integer factor, using the 7x13 bitmap font.
func drawText(dst *image.Gray, s string, x, y, scale int) {
	face := basicfont.Face7x13
	width := font.MeasureString(face, s).Ceil()
	small := image.NewGray(image.Rect(0, 0, width, 13))
	draw.Draw(small, small.Bounds(), image.White, image.Point{}, draw.Src)
	d := &font.Drawer{Dst: small, Src: image.NewUniform(color.Black), Face: face, Dot: fixed.P(0, 10)}
	d.DrawString(s)
	r := image.Rect(x-width*scale/2, y-10*scale, x-width*scale/2+width*scale, y+3*scale)
	draw.NearestNeighbor.Scale(dst, r, small, small.Bounds(), draw.Over, nil)
}
