//! Where each button of the menu sits on the rich menu's picture.
//!
//! The tappable areas tile the picture exactly: rows of equal height, each
//! split into equal widths, with no gap and no overlap, so that every pixel
//! a parent can tap belongs to exactly one button. A menu of up to three
//! buttons is one row on LINE's half-height size (2500×843); more go on the
//! full size (2500×1686) in up to five rows, the earlier rows holding fewer
//! (wider) buttons than the later ones, so the first buttons of the menu
//! (the host puts the most used first) get the largest targets. A picture of
//! another size (a municipality's own `rich_menu_image`) gets the same grid
//! scaled to it.

/// LINE's most buttons (areas) on one rich menu.
pub const MAX_AREAS: usize = 20;

/// A picture's size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

/// LINE's full rich menu size.
pub const FULL: Size = Size {
    width: 2500,
    height: 1686,
};
/// LINE's half-height rich menu size.
pub const HALF: Size = Size {
    width: 2500,
    height: 843,
};

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// LINE's rules for a rich menu picture's size: 800 to 2500 pixels wide,
/// at least 250 high, and at least 1.45 times as wide as it is high.
pub fn check_size(size: Size) -> Result<(), String> {
    if !(800..=2500).contains(&size.width) || size.height < 250 {
        return Err(format!(
            "is {size} pixels; LINE takes 800 to 2500 pixels wide and at least 250 high \
             (2500x1686 or 2500x843 are the usual sizes)"
        ));
    }
    // width / height >= 1.45, in integers.
    if u64::from(size.width) * 100 < u64::from(size.height) * 145 {
        return Err(format!(
            "is {size} pixels; LINE needs it at least 1.45 times as wide as it is high \
             (2500x1686 or 2500x843 are the usual sizes)"
        ));
    }
    Ok(())
}

/// One button's area, in pixels from the picture's top left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// The size a generated picture for `buttons` buttons gets.
pub fn size_for(buttons: usize) -> Size {
    if buttons <= 3 { HALF } else { FULL }
}

/// How many rows `buttons` buttons take (at most four a row).
fn rows(buttons: usize) -> usize {
    match buttons {
        0..=3 => 1,
        4..=6 => 2,
        7..=12 => 3,
        13..=16 => 4,
        _ => 5,
    }
}

/// The areas of `buttons` buttons (1 to [`MAX_AREAS`]) on a picture of
/// `size`, in the menu's order: left to right, top to bottom.
pub fn tiles(buttons: usize, size: Size) -> Vec<Bounds> {
    let buttons = buttons.min(MAX_AREAS);
    if buttons == 0 {
        return Vec::new();
    }
    let rows = rows(buttons);
    let (base, extra) = (buttons / rows, buttons % rows);
    let mut out = Vec::with_capacity(buttons);
    for row in 0..rows {
        // The last `extra` rows take one more: earlier rows are wider.
        let in_row = base + usize::from(row >= rows - extra);
        let (y, height) = split(size.height, rows, row);
        for column in 0..in_row {
            let (x, width) = split(size.width, in_row, column);
            out.push(Bounds {
                x,
                y,
                width,
                height,
            });
        }
    }
    out
}

/// Part `i` of `length` cut into `parts`: its start and length. The cuts
/// fall at `i * length / parts`, so the parts add up to `length` exactly.
fn split(length: u32, parts: usize, i: usize) -> (u32, u32) {
    let at = |i: usize| (u64::from(length) * i as u64 / parts as u64) as u32;
    (at(i), at(i + 1) - at(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pixel of the picture is in exactly one area.
    fn assert_tiles_exactly(areas: &[Bounds], size: Size) {
        let mut covered = vec![0u8; (size.width * size.height) as usize];
        for a in areas {
            assert!(a.width > 0 && a.height > 0, "{a:?}");
            assert!(
                a.x + a.width <= size.width && a.y + a.height <= size.height,
                "{a:?} in {size}"
            );
            for y in a.y..a.y + a.height {
                for x in a.x..a.x + a.width {
                    covered[(y * size.width + x) as usize] += 1;
                }
            }
        }
        assert!(covered.iter().all(|&n| n == 1), "{size}: {areas:?}");
    }

    #[test]
    fn five_buttons_are_two_wide_over_three_on_the_full_size() {
        let areas = tiles(5, size_for(5));
        assert_eq!(size_for(5), FULL);
        let at = |b: &Bounds| (b.x, b.y, b.width, b.height);
        assert_eq!(
            areas.iter().map(at).collect::<Vec<_>>(),
            [
                (0, 0, 1250, 843),
                (1250, 0, 1250, 843),
                (0, 843, 833, 843),
                (833, 843, 833, 843),
                (1666, 843, 834, 843),
            ]
        );
    }

    #[test]
    fn every_count_of_buttons_tiles_the_picture_exactly() {
        for n in 1..=MAX_AREAS {
            let size = size_for(n);
            let areas = tiles(n, size);
            assert_eq!(areas.len(), n);
            assert_tiles_exactly(&areas, size);
            // Large enough to tap: at least 600x330 of 2500 (a phone shows
            // the 2500 pixels in about 375 points: 90x50 points).
            assert!(
                areas.iter().all(|a| a.width >= 600 && a.height >= 330),
                "{n}: {areas:?}"
            );
        }
        assert_eq!(size_for(3), HALF);
        assert_eq!(size_for(4), FULL);
        // Another picture's size gets the same grid.
        let own = Size {
            width: 1200,
            height: 810,
        };
        assert_tiles_exactly(&tiles(7, own), own);
    }

    #[test]
    fn more_than_lines_limit_is_cut_to_twenty_and_none_is_empty() {
        assert_eq!(tiles(25, FULL).len(), MAX_AREAS);
        assert!(tiles(0, FULL).is_empty());
    }

    #[test]
    fn sizes_line_refuses_are_named() {
        for ok in [
            FULL,
            HALF,
            Size {
                width: 800,
                height: 540,
            },
            Size {
                width: 1200,
                height: 405,
            },
        ] {
            assert_eq!(check_size(ok), Ok(()), "{ok}");
        }
        for bad in [
            Size {
                width: 2501,
                height: 1686,
            },
            Size {
                width: 799,
                height: 270,
            },
            Size {
                width: 2500,
                height: 249,
            },
            Size {
                width: 2500,
                height: 1725,
            },
        ] {
            let message = check_size(bad).expect_err("refused");
            assert!(
                message.starts_with(&format!("is {bad} pixels")),
                "{message}"
            );
        }
    }
}
