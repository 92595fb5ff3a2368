//! Mapping between where a pointer is on a participant's screen and the shared surface (0..1),
//! through the participant's own letterboxing, zoom and pan — and back, for drawing cursors.

/// How a `<video>` is laid out: its box (untransformed, client px) and the intrinsic size of
/// what it plays. The video is shown `object-fit: contain`, centred.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoLayout {
    pub box_x: f64,
    pub box_y: f64,
    pub box_w: f64,
    pub box_h: f64,
    pub video_w: f64,
    pub video_h: f64,
}

/// The viewer's CSS transform: `translate(pan) scale(zoom)` around the box centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewTransform {
    pub zoom: f64,
    pub pan_x: f64,
    pub pan_y: f64,
}

impl Default for ViewTransform {
    fn default() -> Self {
        ViewTransform {
            zoom: 1.0,
            pan_x: 0.0,
            pan_y: 0.0,
        }
    }
}

impl VideoLayout {
    /// The rectangle the picture occupies inside the box (x, y, w, h), before zoom/pan.
    pub fn content_rect(&self) -> Option<(f64, f64, f64, f64)> {
        let sane = |v: f64| v.is_finite() && v > 0.0;
        if ![self.box_w, self.box_h, self.video_w, self.video_h]
            .into_iter()
            .all(sane)
        {
            return None;
        }
        let scale = (self.box_w / self.video_w).min(self.box_h / self.video_h);
        let (w, h) = (self.video_w * scale, self.video_h * scale);
        Some((
            self.box_x + (self.box_w - w) / 2.0,
            self.box_y + (self.box_h - h) / 2.0,
            w,
            h,
        ))
    }

    fn centre(&self) -> (f64, f64) {
        (self.box_x + self.box_w / 2.0, self.box_y + self.box_h / 2.0)
    }

    /// Where client point (cx, cy) falls in surface coordinates, unbounded (outside the
    /// picture: below 0 or above 1).
    fn surface_point(&self, t: ViewTransform, cx: f64, cy: f64) -> Option<(f64, f64)> {
        let (x, y, w, h) = self.content_rect()?;
        if !(t.zoom.is_finite() && t.zoom > 0.0) {
            return None;
        }
        let (ox, oy) = self.centre();
        // Undo translate(pan) scale(zoom) about the centre.
        let ux = ox + (cx - ox - t.pan_x) / t.zoom;
        let uy = oy + (cy - oy - t.pan_y) / t.zoom;
        Some(((ux - x) / w, (uy - y) / h))
    }

    /// The surface point under client point (cx, cy), or `None` outside the picture.
    pub fn normalize(&self, t: ViewTransform, cx: f64, cy: f64) -> Option<(f64, f64)> {
        let (nx, ny) = self.surface_point(t, cx, cy)?;
        // Rounding may put an edge pixel a hair outside; a real miss is far more than that.
        const EDGE: f64 = 1e-9;
        let inside = |v: f64| (-EDGE..=1.0 + EDGE).contains(&v);
        (inside(nx) && inside(ny)).then(|| (nx.clamp(0.0, 1.0), ny.clamp(0.0, 1.0)))
    }

    /// The surface point nearest client point (cx, cy): inside the picture the same as
    /// [`Self::normalize`], outside it on the picture's edge. For a drag that leaves the
    /// picture: its moves and its release stay on the host's surface, at the edge.
    pub fn normalize_clamped(&self, t: ViewTransform, cx: f64, cy: f64) -> Option<(f64, f64)> {
        let (nx, ny) = self.surface_point(t, cx, cy)?;
        (nx.is_finite() && ny.is_finite()).then(|| (nx.clamp(0.0, 1.0), ny.clamp(0.0, 1.0)))
    }

    /// `t` with its pan kept where the zoomed picture still fills the box along each axis it
    /// is longer than the box, and centred along one it is not (unzoomed, say): a drag cannot
    /// lose the picture off the side, and zooming out brings it back.
    pub fn bounded(&self, t: ViewTransform) -> ViewTransform {
        let Some((x, y, w, h)) = self.content_rect() else {
            return t;
        };
        let (ox, oy) = self.centre();
        let clamp = |pan: f64, (start, end): (f64, f64)| pan.clamp(start.min(end), start.max(end));
        ViewTransform {
            pan_x: clamp(t.pan_x, pan_range(self.box_x, self.box_w, ox, x, w, t.zoom)),
            pan_y: clamp(t.pan_y, pan_range(self.box_y, self.box_h, oy, y, h, t.zoom)),
            ..t
        }
    }

    /// A lens that follows client point (cx, cy) at `zoom`: the surface point under the
    /// pointer is the one it is unzoomed, so moving to an edge of the box brings that edge of
    /// the picture into view (what a controller, whose drags go to the host, pans by).
    pub fn following(&self, zoom: f64, cx: f64, cy: f64) -> ViewTransform {
        let (ox, oy) = self.centre();
        self.bounded(ViewTransform {
            zoom,
            pan_x: (ox - cx) * (zoom - 1.0),
            pan_y: (oy - cy) * (zoom - 1.0),
        })
    }

    /// The client point showing surface point (nx, ny).
    pub fn to_client(&self, t: ViewTransform, nx: f64, ny: f64) -> Option<(f64, f64)> {
        let (x, y, w, h) = self.content_rect()?;
        let (ox, oy) = self.centre();
        let (ux, uy) = (x + nx * w, y + ny * h);
        Some((
            ox + t.pan_x + (ux - ox) * t.zoom,
            oy + t.pan_y + (uy - oy) * t.zoom,
        ))
    }
}

/// Along one axis: the pan that puts the zoomed picture's start edge at the box's start, and
/// the one that puts its end edge at the box's end; none but 0 where the zoomed picture is
/// no longer than the box.
fn pan_range(
    box_start: f64,
    box_len: f64,
    centre: f64,
    start: f64,
    len: f64,
    zoom: f64,
) -> (f64, f64) {
    let (a, b) = ((start - centre) * zoom, (start + len - centre) * zoom);
    let range = (box_start - centre - a, box_start + box_len - centre - b);
    if range.0 > range.1 {
        range
    } else {
        (0.0, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A 1280×720 picture in a 1000×1000 box at (100, 50): letterboxed top and bottom.
    fn layout() -> VideoLayout {
        VideoLayout {
            box_x: 100.0,
            box_y: 50.0,
            box_w: 1000.0,
            box_h: 1000.0,
            video_w: 1280.0,
            video_h: 720.0,
        }
    }

    #[test]
    fn letterboxing_is_outside_the_surface() {
        let l = layout();
        let (x, y, w, h) = l.content_rect().unwrap();
        assert_eq!((x, w), (100.0, 1000.0));
        assert!((h - 562.5).abs() < 1e-9);
        assert!((y - (50.0 + (1000.0 - 562.5) / 2.0)).abs() < 1e-9);
        let t = ViewTransform::default();
        assert_eq!(l.normalize(t, 100.0, 60.0), None, "top bar");
        assert_eq!(l.normalize(t, 600.0, 550.0), Some((0.5, 0.5)));
        assert_eq!(l.normalize(t, 100.0, y), Some((0.0, 0.0)));
        assert_eq!(l.normalize(t, 1100.0, y + h), Some((1.0, 1.0)));
    }

    #[test]
    fn zoom_and_pan_are_undone() {
        let l = layout();
        let t = ViewTransform {
            zoom: 2.0,
            pan_x: 0.0,
            pan_y: 0.0,
        };
        // At 2× the box centre still shows the surface centre; a point 250 px right of the
        // centre shows a quarter of the width to the right of it... at half the distance.
        assert_eq!(l.normalize(t, 600.0, 550.0), Some((0.5, 0.5)));
        let (nx, _) = l.normalize(t, 850.0, 550.0).unwrap();
        assert!((nx - 0.625).abs() < 1e-9);
        let panned = ViewTransform { pan_x: -100.0, ..t };
        let (nx, _) = l.normalize(panned, 600.0, 550.0).unwrap();
        assert!((nx - 0.55).abs() < 1e-9);
    }

    #[test]
    fn degenerate_layouts_map_nothing() {
        let mut l = layout();
        l.video_w = 0.0;
        assert_eq!(l.normalize(ViewTransform::default(), 600.0, 550.0), None);
        let l = layout();
        let t = ViewTransform {
            zoom: 0.0,
            ..Default::default()
        };
        assert_eq!(l.normalize(t, 600.0, 550.0), None);
    }

    proptest! {
        #[test]
        fn to_client_inverts_normalize(nx in 0.0f64..=1.0, ny in 0.0f64..=1.0,
                                       zoom in 1.0f64..6.0, px in -500.0f64..500.0, py in -500.0f64..500.0) {
            let l = layout();
            let t = ViewTransform { zoom, pan_x: px, pan_y: py };
            let (cx, cy) = l.to_client(t, nx, ny).unwrap();
            let (bx, by) = l.normalize(t, cx, cy).unwrap();
            prop_assert!((bx - nx).abs() < 1e-9 && (by - ny).abs() < 1e-9);
        }
    }

    /// The four edges of the zoomed picture, in client px.
    fn shown(l: &VideoLayout, t: ViewTransform) -> (f64, f64, f64, f64) {
        let (l0, t0) = l.to_client(t, 0.0, 0.0).unwrap();
        let (r1, b1) = l.to_client(t, 1.0, 1.0).unwrap();
        (l0, t0, r1, b1)
    }

    #[test]
    fn a_pan_keeps_the_picture_in_the_box() {
        // 16:9 in a square box at 2×: 2000 px wide (±500 of pan), 1125 high (±62.5).
        let l = layout();
        let far = ViewTransform {
            zoom: 2.0,
            pan_x: 5000.0,
            pan_y: -5000.0,
        };
        let b = l.bounded(far);
        assert!(
            (b.pan_x - 500.0).abs() < 1e-9 && (b.pan_y + 62.5).abs() < 1e-9,
            "{b:?}"
        );
        let (left, _, _, bottom) = shown(&l, b);
        assert!((left - l.box_x).abs() < 1e-9, "left edge at the box's");
        assert!(
            (bottom - (l.box_y + l.box_h)).abs() < 1e-9,
            "bottom edge at the box's"
        );
        // At 1.5× the picture is 843.75 high, shorter than the box: it stays centred.
        let short = l.bounded(ViewTransform {
            zoom: 1.5,
            pan_x: -1000.0,
            pan_y: 1000.0,
        });
        assert!(
            (short.pan_x + 250.0).abs() < 1e-9 && short.pan_y == 0.0,
            "{short:?}"
        );
        // Unzoomed, nothing moves, along either axis; a pan within bounds is kept.
        let unzoomed = l.bounded(ViewTransform {
            pan_x: 30.0,
            pan_y: -200.0,
            zoom: 1.0,
        });
        assert_eq!((unzoomed.pan_x, unzoomed.pan_y), (0.0, 0.0));
        let within = ViewTransform {
            zoom: 3.0,
            pan_x: -120.0,
            pan_y: 10.0,
        };
        assert_eq!(l.bounded(within), within);
    }

    #[test]
    fn a_lens_follows_the_pointer_to_each_edge() {
        let l = layout();
        // The pointer at the box's left edge shows the picture's left edge there, at its right
        // edge the right, at the centre the centre.
        let (left, ..) = shown(&l, l.following(2.0, l.box_x, 550.0));
        assert!((left - l.box_x).abs() < 1e-9);
        let (_, _, right, _) = shown(&l, l.following(2.0, l.box_x + l.box_w, 550.0));
        assert!((right - (l.box_x + l.box_w)).abs() < 1e-9);
        let centre = l.following(2.0, 600.0, 550.0);
        assert!(centre.pan_x.abs() < 1e-9 && centre.pan_y.abs() < 1e-9);
        assert_eq!(l.normalize(centre, 600.0, 550.0), Some((0.5, 0.5)));
        // Where the pan needs no bound, the pointer is over what it is over unzoomed.
        let at = l.following(2.0, 700.0, 560.0);
        let (zoomed, plain) = (
            l.normalize(at, 700.0, 560.0).unwrap(),
            l.normalize(ViewTransform::default(), 700.0, 560.0).unwrap(),
        );
        assert!((zoomed.0 - plain.0).abs() < 1e-9 && (zoomed.1 - plain.1).abs() < 1e-9);
    }

    proptest! {
        /// Wherever the pointer is, the lens is a pan `bounded` keeps as it is.
        #[test]
        fn a_lens_is_within_bounds(zoom in 1.0f64..6.0, cx in -500.0f64..2000.0, cy in -500.0f64..2000.0) {
            let l = layout();
            let t = l.following(zoom, cx, cy);
            let b = l.bounded(t);
            prop_assert!((b.pan_x - t.pan_x).abs() < 1e-6 && (b.pan_y - t.pan_y).abs() < 1e-6);
            // Inside the box, the pointer is always over the picture, or over its letterbox.
            if (l.box_x..=l.box_x + l.box_w).contains(&cx) {
                let (nx, _) = l.surface_point(t, cx, cy).unwrap();
                prop_assert!((-1e-9..=1.0 + 1e-9).contains(&nx), "{nx}");
            }
        }
    }

    #[test]
    fn a_point_outside_the_picture_clamps_to_its_edge() {
        let l = layout();
        let t = ViewTransform::default();
        let (_, y, _, h) = l.content_rect().unwrap();
        // Above the picture (in the letterbox) and left of the box.
        assert_eq!(l.normalize(t, 600.0, y - 20.0), None);
        assert_eq!(l.normalize_clamped(t, 600.0, y - 20.0), Some((0.5, 0.0)));
        assert_eq!(
            l.normalize_clamped(t, -5000.0, y + h + 1.0),
            Some((0.0, 1.0))
        );
        // Inside, the same as normalize.
        assert_eq!(
            l.normalize_clamped(t, 350.0, y + h / 4.0),
            l.normalize(t, 350.0, y + h / 4.0)
        );
        assert_eq!(l.normalize_clamped(t, f64::NAN, 0.0), None);
        let bad = ViewTransform { zoom: 0.0, ..t };
        assert_eq!(l.normalize_clamped(bad, 0.0, 0.0), None);
    }
}
