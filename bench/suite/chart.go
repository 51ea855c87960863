package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
)

var (
	white  = color.RGBA{255, 255, 255, 255}
	black  = color.RGBA{30, 30, 30, 255}
	grey   = color.RGBA{200, 200, 200, 255}
	blue   = color.RGBA{54, 112, 184, 255}
	orange = color.RGBA{232, 133, 40, 255}
	green  = color.RGBA{70, 150, 80, 255}
	purple = color.RGBA{130, 80, 160, 255}
)

type series struct {
	name   string
	c      color.Color
	values []float64 // one per group; NaN: no bar
}

// chart draws the main ratios against Node's round-robin primary: req/s
// (keep-alive, close) and the primary's RSS and CPU per connection.
func (r *report) chart() []byte {
	if r.node[baseline] == nil {
		return nil
	}
	var groups []string
	var ka, cl, mem, cpu []float64
	for _, k := range nodeKinds {
		if k.name == baseline || r.node[k.name] == nil {
			continue
		}
		groups = append(groups, k.name)
		ka = append(ka, median(r.ratios(k.name, "keep-alive", rps)))
		cl = append(cl, median(r.ratios(k.name, "close", rps)))
		var m []float64
		for i := range min(len(r.node[k.name]), len(r.node[baseline])) {
			m = append(m, ratio(float64(r.node[k.name][i].idleRSS), float64(r.node[baseline][i].idleRSS)))
		}
		mem = append(mem, median(m))
		cpu = append(cpu, median(r.ratios(k.name, "close", func(h httpRun) float64 { return h.primaryUsPerReq })))
	}
	img := image.NewRGBA(image.Rect(0, 0, 1200, 900))
	fill(img, 0, 0, 1200, 900, white)
	title := "HERD AND PM2 AGAINST NODE'S CLUSTER PRIMARY (RR), SAME ROUND, MEDIAN OF ROUNDS"
	drawText(img, 20, 14, title, 2, black)
	sub := fmt.Sprintf("%s, %d CORES, %d ROUND(S), 2 WORKERS, WRK -T1 -C%d", r.machine.cpu, r.machine.cores, r.o.rounds, r.o.conns)
	drawText(img, 20, 38, sub, 1, black)
	panel(img, image.Rect(0, 60, 1200, 480), "REQUESTS/S VS NODE RR (1.0 = NODE RR)", groups,
		[]series{{"KEEP-ALIVE", blue, ka}, {"NEW CONNECTION PER REQUEST", orange, cl}})
	panel(img, image.Rect(0, 480, 1200, 900), "PRIMARY VS NODE'S PRIMARY (LOWER IS BETTER)", groups,
		[]series{{"IDLE RSS", green, mem}, {"CPU PER CONNECTION (CLOSE)", purple, cpu}})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil
	}
	return buf.Bytes()
}

// panel draws grouped bars with value labels, a y axis and a line at 1.0.
func panel(img *image.RGBA, box image.Rectangle, title string, groups []string, ss []series) {
	left, right, top, bottom := box.Min.X+70, box.Max.X-20, box.Min.Y+60, box.Max.Y-60
	drawText(img, box.Min.X+20, box.Min.Y+10, title, 2, black)
	lx := box.Min.X + 20
	for _, s := range ss {
		fill(img, lx, box.Min.Y+36, 14, 14, s.c)
		drawText(img, lx+20, box.Min.Y+37, s.name, 2, black)
		lx += 20 + textWidth(s.name, 2) + 30
	}
	hi := 1.2
	for _, s := range ss {
		for _, v := range s.values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				hi = math.Max(hi, v*1.15)
			}
		}
	}
	step := 0.25
	for hi/step > 8 {
		step *= 2
	}
	y := func(v float64) int { return bottom - int(v/hi*float64(bottom-top)) }
	for v := 0.0; v <= hi; v += step {
		yy := y(v)
		fill(img, left, yy, right-left, 1, grey)
		lbl := fmt.Sprintf("%.2f", v)
		drawText(img, left-8-textWidth(lbl, 1), yy-3, lbl, 1, black)
	}
	for x := left; x < right; x += 8 { // the 1.0 line, dashed
		fill(img, x, y(1)-1, 4, 2, black)
	}
	fill(img, left, top, 1, bottom-top, black)
	fill(img, left, bottom, right-left, 1, black)
	gw := (right - left) / max(1, len(groups))
	bw := min(60, (gw-30)/max(1, len(ss)))
	for g, name := range groups {
		gx := left + g*gw + (gw-bw*len(ss))/2
		for i, s := range ss {
			v := s.values[g]
			x := gx + i*bw
			if math.IsNaN(v) || math.IsInf(v, 0) {
				drawText(img, x+bw/2-6, bottom-18, "-", 2, black)
				continue
			}
			fill(img, x+2, y(v), bw-4, bottom-y(v), s.c)
			lbl := fmt.Sprintf("%.2f", v)
			lx := x + bw/2 - textWidth(lbl, 1)/2
			fill(img, lx-2, y(v)-14, textWidth(lbl, 1)+3, 11, white) // over the dashed 1.0 line
			drawText(img, lx, y(v)-12, lbl, 1, black)
		}
		lines := []string{name}
		if textWidth(name, 2) > gw-10 { // two lines: the first word, then the rest
			if a, b, ok := strings.Cut(name, " "); ok {
				lines = []string{a, b}
			}
		}
		for i, l := range lines {
			drawText(img, left+g*gw+gw/2-textWidth(l, 2)/2, bottom+12+i*20, l, 2, black)
		}
	}
}
