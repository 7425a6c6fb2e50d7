package main

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// chartRows are the cases the chart shows, with short labels, top first.
var chartRows = []struct{ name, label string }{
	{"server", "PAKE, server side"},
	{"client", "PAKE, client side (offers hybrid)"},
	{"client-x25519", "PAKE, client side (X25519 only)"},
	{"psk-server", "PSK reconnect, server side"},
	{"psk-client", "PSK reconnect, client side"},
	{"both-x25519", "PAKE, both sides (X25519)"},
	{"both-mlkem", "PAKE, both sides (hybrid PQ)"},
	{"cryptotls", "crypto/tls, Ed25519 cert, both sides"},
	{"cpace", "CPace exchange (tlspake/cpace)"},
	{"cpace-filippo", "CPace exchange (filippo.io/cpace)"},
}

// writeChart draws a horizontal grouped bar chart of the X25519-equivalents
// of chartRows, one bar per target, into a PNG file.
func writeChart(path string, runs []*run) error {
	p := plot.New()
	p.Title.Text = "tlspake: cost of each operation in X25519-equivalents (lower is better)"
	p.X.Label.Text = "time / one X25519 on the same processor, same run"
	p.X.Min = 0
	// Bottom right, where the CPace rows leave room.
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.XOffs = -vg.Points(10)
	p.Legend.YOffs = vg.Points(10)

	// Nominal Y counts from the bottom, so the rows go in reverse.
	labels := make([]string, len(chartRows))
	for i, r := range chartRows {
		labels[len(chartRows)-1-i] = r.label
	}
	barWidth := vg.Points(9)
	n := len(runs)
	maxVal := 0.0
	for j, r := range runs {
		vals := make(plotter.Values, len(chartRows))
		for i, row := range chartRows {
			if res, ok := r.report.Result(row.name); ok {
				vals[len(chartRows)-1-i] = r.report.Equivalents(res)
				maxVal = max(maxVal, vals[len(chartRows)-1-i])
			}
		}
		bars, err := plotter.NewBarChart(vals, barWidth)
		if err != nil {
			return err
		}
		bars.Horizontal = true
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(j)
		// Center the group on the row: the first target on top.
		bars.Offset = vg.Length(float64(n-1)/2-float64(j)) * barWidth
		p.Add(bars)
		p.Legend.Add(legendName(r), bars)
	}
	p.NominalY(labels...)
	p.X.Max = maxVal * 1.05
	p.Y.Padding = vg.Points(4)
	grid := plotter.NewGrid()
	grid.Horizontal.Color = color.Transparent
	p.Add(grid)
	h := vg.Length(len(chartRows)*(n+1))*barWidth + 2*vg.Inch
	return p.Save(10*vg.Inch, h, path)
}

func legendName(r *run) string {
	if r.runner == "native" {
		return fmt.Sprintf("%s (native)", r.target.Name)
	}
	return fmt.Sprintf("%s (%s)", r.target.Name, r.runner)
}
