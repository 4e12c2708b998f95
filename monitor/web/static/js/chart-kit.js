// What the pages' uPlot charts share: a dot for a value with no neighbour to join, and a
// time axis whose labels never overlap, whatever the range and the width.

// uPlot draws no segment beside a gap (null; undefined is joined across, as are nulls with
// spanGaps) and hides a dense series' points: a value with no neighbour would be drawn as
// nothing. As a series' `points.filter`: when its points are hidden, those values' alone.
export function lonePoints(u, index, show) {
  if (show) return null;
  const ys = u.data[index];
  const joined = u.series[index].spanGaps;
  const found = [];
  let alone = -1; // a value whose left is a gap, until its right is known
  let after = false; // the previous entry drawn is a value
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y === undefined || (y === null && joined)) continue;
    if (y === null) {
      if (alone >= 0) found.push(alone);
      alone = -1;
      after = false;
    } else {
      alone = after ? -1 : i;
      after = true;
    }
  }
  if (alone >= 0) found.push(alone);
  return found.length ? found : null;
}

// Tick steps of a time axis (seconds): uPlot's, with 2 s, 2 min and 20 min between (its 1 min
// to 5 min is a long jump once ticks are as far apart as their labels are wide).
const M = 60;
const H = 3600;
const D = 86400;
const TIME_STEPS = [1, 2, 5, 10, 15, 30, M, 2 * M, 5 * M, 10 * M, 15 * M, 20 * M, 30 * M,
                    H, 2 * H, 3 * H, 4 * H, 6 * H, 8 * H, 12 * H, D, 2 * D, 3 * D, 4 * D,
                    5 * D, 6 * D, 7 * D, 10 * D, 15 * D, 30 * D, 60 * D, 90 * D, 120 * D,
                    180 * D, 365 * D, 2 * 365 * D, 5 * 365 * D, 10 * 365 * D];
const GAP = 16; // px between two labels at least
let ruler = null;

// Ticks as far apart as the widest label uPlot writes for them and a gap: "12:48pm" for
// minutes and coarser (hours, days and months are shorter), "12:48:30pm" when the range is
// so short for the width that seconds would be marked.
function timeSpace(u, axis, min, max, dim) {
  const [font, scaled, css] = u.axes[axis].font; // the canvas font, its px, its CSS px
  ruler ??= document.createElement("canvas").getContext("2d");
  ruler.font = font;
  const width = (text) => (ruler.measureText(text).width * css) / scaled + GAP;
  const minutes = width("12:48pm");
  return ((max - min) * minutes) / dim >= M ? minutes : width("12:48:30pm");
}

// A time axis: `base` (colours, grid) with those steps and that spacing.
export function timeAxis(base) {
  return { ...base, space: timeSpace, incrs: TIME_STEPS };
}
