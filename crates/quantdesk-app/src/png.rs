//! A small raster canvas and PNG encoder for the plots the TradeMaster-compatible API returns as
//! base64 PNG (TradeMaster's front end shows `<img src="data:image/png;base64,…">`): filled
//! rectangles, lines and polygons with alpha, no text. The encoder writes 8-bit RGB, filter 0 on
//! every row, one zlib-compressed IDAT chunk (flate2) and the CRC-32 of each chunk.

use std::io::Write as _;

/// An RGB colour.
pub type Rgb = [u8; 3];

/// An RGB image, row by row from the top.
#[derive(Debug, Clone)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `background`.
    pub fn new(width: u32, height: u32, background: Rgb) -> Canvas {
        let n = width as usize * height as usize;
        let mut pixels = Vec::with_capacity(n * 3);
        for _ in 0..n {
            pixels.extend_from_slice(&background);
        }
        Canvas { width, height, pixels }
    }

    /// The colour at `(x, y)`.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgb> {
        (x < self.width && y < self.height).then(|| {
            let i = (y as usize * self.width as usize + x as usize) * 3;
            [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
        })
    }

    /// Blends `c` with opacity `alpha` (0 to 1) over the pixel at `(x, y)`; outside is ignored.
    pub fn blend(&mut self, x: i64, y: i64, c: Rgb, alpha: f64) {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return;
        }
        let a = alpha.clamp(0.0, 1.0);
        let i = (y as usize * self.width as usize + x as usize) * 3;
        for (px, &to) in self.pixels[i..i + 3].iter_mut().zip(&c) {
            let old = f64::from(*px);
            *px = (old + (f64::from(to) - old) * a).round() as u8;
        }
    }

    /// Fills the rectangle `[x0, x1) × [y0, y1)` (clipped).
    pub fn fill_rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, c: Rgb, alpha: f64) {
        let (xa, xb) = (x0.min(x1).round() as i64, x0.max(x1).round() as i64);
        let (ya, yb) = (y0.min(y1).round() as i64, y0.max(y1).round() as i64);
        for y in ya.max(0)..yb.min(i64::from(self.height)) {
            for x in xa.max(0)..xb.min(i64::from(self.width)) {
                self.blend(x, y, c, alpha);
            }
        }
    }

    /// A line `width` pixels wide from `(x0, y0)` to `(x1, y1)`; non-finite ends draw nothing.
    pub fn line(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, width: f64, c: Rgb) {
        if ![x0, y0, x1, y1].iter().all(|v| v.is_finite()) {
            return;
        }
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().clamp(1.0, 100_000.0) as usize;
        let r = (width / 2.0).max(0.5);
        let ri = r.ceil() as i64;
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let (px, py) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
            for dy in -ri..=ri {
                for dx in -ri..=ri {
                    let (qx, qy) = (px.round() as i64 + dx, py.round() as i64 + dy);
                    let d = ((qx as f64 - px).powi(2) + (qy as f64 - py).powi(2)).sqrt();
                    if d <= r {
                        self.blend(qx, qy, c, 1.0);
                    }
                }
            }
        }
    }

    /// Fills a polygon (even-odd rule, pixel centres) with `c` at opacity `alpha`.
    pub fn fill_polygon(&mut self, points: &[(f64, f64)], c: Rgb, alpha: f64) {
        if points.len() < 3 || points.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
            return;
        }
        let ymin = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min).floor().max(0.0) as i64;
        let ymax =
            points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max).ceil().min(f64::from(self.height)) as i64;
        for y in ymin..ymax {
            let yc = y as f64 + 0.5;
            let mut xs: Vec<f64> = Vec::new();
            for i in 0..points.len() {
                let (a, b) = (points[i], points[(i + 1) % points.len()]);
                if (a.1 <= yc) != (b.1 <= yc) {
                    xs.push(a.0 + (yc - a.1) / (b.1 - a.1) * (b.0 - a.0));
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                let (xa, xb) = ((pair[0] - 0.5).ceil() as i64, (pair[1] - 0.5).floor() as i64);
                for x in xa..=xb {
                    self.blend(x, y, c, alpha);
                }
            }
        }
    }

    /// The outline of a closed polygon.
    pub fn polygon(&mut self, points: &[(f64, f64)], width: f64, c: Rgb) {
        for i in 0..points.len() {
            let (a, b) = (points[i], points[(i + 1) % points.len()]);
            self.line(a.0, a.1, b.0, b.1, width, c);
        }
    }

    /// The image as a PNG file.
    pub fn png(&self) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut crc = flate2::Crc::new();
            crc.update(kind);
            crc.update(data);
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            out.extend_from_slice(&crc.sum().to_be_bytes());
        }
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&self.width.to_be_bytes());
        ihdr.extend_from_slice(&self.height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, filter 0, no interlace
        chunk(&mut out, b"IHDR", &ihdr);
        let row = self.width as usize * 3;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        for y in 0..self.height as usize {
            // Writing into a Vec cannot fail.
            let _ = z.write_all(&[0]);
            let _ = z.write_all(&self.pixels[y * row..(y + 1) * row]);
        }
        let idat = z.finish().unwrap_or_default();
        chunk(&mut out, b"IDAT", &idat);
        chunk(&mut out, b"IEND", &[]);
        out
    }
}

/// The colour of label `l` of `n`: from the chart's down colour (0, the most bearish) through
/// grey to its up colour (n − 1).
pub fn label_colour(l: usize, n: usize) -> Rgb {
    const DOWN: Rgb = [0xef, 0x53, 0x50];
    const MID: Rgb = [0x9e, 0x9e, 0x9e];
    const UP: Rgb = [0x26, 0xa6, 0x9a];
    let t = if n <= 1 { 0.5 } else { l as f64 / (n - 1) as f64 };
    let mix = |a: Rgb, b: Rgb, t: f64| {
        [0, 1, 2].map(|k| (f64::from(a[k]) + (f64::from(b[k]) - f64::from(a[k])) * t).round() as u8)
    };
    if t <= 0.5 { mix(DOWN, MID, t * 2.0) } else { mix(MID, UP, (t - 0.5) * 2.0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    /// Reads back our own PNG: checks the signature and every chunk's CRC, returns the size and
    /// the inflated scanlines.
    fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let (mut i, mut size, mut idat) = (8, (0, 0), Vec::new());
        while i < png.len() {
            let len = u32::from_be_bytes(png[i..i + 4].try_into().unwrap()) as usize;
            let kind = &png[i + 4..i + 8];
            let data = &png[i + 8..i + 8 + len];
            let mut crc = flate2::Crc::new();
            crc.update(kind);
            crc.update(data);
            assert_eq!(crc.sum().to_be_bytes(), png[i + 8 + len..i + 12 + len], "CRC of {kind:?}");
            match kind {
                b"IHDR" => {
                    size = (
                        u32::from_be_bytes(data[0..4].try_into().unwrap()),
                        u32::from_be_bytes(data[4..8].try_into().unwrap()),
                    );
                    assert_eq!(&data[8..], &[8, 2, 0, 0, 0]);
                }
                b"IDAT" => idat.extend_from_slice(data),
                _ => {}
            }
            i += 12 + len;
        }
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
        (size.0, size.1, raw)
    }

    #[test]
    fn the_png_holds_the_pixels_drawn() {
        let mut c = Canvas::new(20, 10, [255, 255, 255]);
        c.fill_rect(0.0, 0.0, 5.0, 10.0, [255, 0, 0], 1.0);
        c.line(10.0, 0.0, 10.0, 9.0, 1.0, [0, 0, 255]);
        c.fill_polygon(&[(14.0, 2.0), (19.0, 2.0), (19.0, 8.0), (14.0, 8.0)], [0, 0, 0], 0.5);
        let (w, h, raw) = decode(&c.png());
        assert_eq!((w, h), (20, 10));
        assert_eq!(raw.len(), 10 * (1 + 20 * 3));
        let px = |x: usize, y: usize| {
            let i = y * 61 + 1 + x * 3;
            [raw[i], raw[i + 1], raw[i + 2]]
        };
        assert_eq!(px(2, 5), [255, 0, 0]);
        assert_eq!(px(10, 5), [0, 0, 255]);
        assert_eq!(px(16, 5), [128, 128, 128], "half black over white");
        assert_eq!(px(7, 5), [255, 255, 255]);
        assert!((0..10).all(|y| raw[y * 61] == 0), "filter 0 on every row");
    }

    #[test]
    fn label_colours_run_from_down_to_up() {
        assert_eq!(label_colour(0, 3), [0xef, 0x53, 0x50]);
        assert_eq!(label_colour(1, 3), [0x9e, 0x9e, 0x9e]);
        assert_eq!(label_colour(2, 3), [0x26, 0xa6, 0x9a]);
    }
}
