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
