//! Charts as server-rendered SVG: no script, no library, readable offline and in a screenshot.
//! Every label goes through [`Html::text`], like the rest of the page.

use super::html::Html;

/// A step line of a share (0..=1) over an ordinal axis, e.g. an agent's score after each
/// verdict in the ledger.
#[derive(Debug)]
pub(crate) struct StepChart<'a> {
    /// `(x, share)`, x ascending.
    pub points: &'a [(f64, f64)],
    pub x_label: &'a str,
    /// Labels under the left and right ends of the x axis.
    pub x_ends: (String, String),
    pub title: &'a str,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;

impl StepChart<'_> {
    pub(crate) fn render(&self) -> Html {
        let mut svg = Html::new();
        svg.raw("<svg class=\"chart line-chart\" role=\"img\" viewBox=\"0 0 720 240\" xmlns=\"http://www.w3.org/2000/svg\"><title>")
            .text(self.title)
            .raw("</title>");
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        for step in 0..=4 {
            let share = f64::from(step) / 4.0;
            let y = TOP + plot_h * (1.0 - share);
            svg.raw("<line class=\"grid\" x1=\"")
                .fmt(format_args!("{LEFT}"))
                .raw("\" x2=\"")
                .fmt(format_args!("{}", LEFT + plot_w))
                .raw("\" y1=\"")
                .fmt(format_args!("{y:.1}"))
                .raw("\" y2=\"")
                .fmt(format_args!("{y:.1}"))
                .raw("\"/><text class=\"axis\" text-anchor=\"end\" x=\"")
                .fmt(format_args!("{}", LEFT - 6.0))
                .raw("\" y=\"")
                .fmt(format_args!("{:.1}", y + 4.0))
                .raw("\">")
                .fmt(format_args!("{}%", step * 25))
                .raw("</text>");
        }
        let (min_x, max_x) = match (self.points.first(), self.points.last()) {
            (Some(first), Some(last)) => (first.0, last.0),
            _ => (0.0, 1.0),
        };
        let span = if max_x > min_x { max_x - min_x } else { 1.0 };
        let px = |x: f64| LEFT + plot_w * (x - min_x) / span;
        let py = |share: f64| TOP + plot_h * (1.0 - share.clamp(0.0, 1.0));
        if let Some(&(x0, y0)) = self.points.first() {
            let mut line = format!("M{:.1},{:.1}", px(x0), py(y0));
            for &(x, y) in &self.points[1..] {
                line.push_str(&format!(" H{:.1} V{:.1}", px(x), py(y)));
            }
            let area = format!("{line} V{:.1} H{:.1} Z", py(0.0), px(x0));
            svg.raw("<path class=\"area\" d=\"").text(&area).raw("\"/>");
            svg.raw("<path class=\"line\" d=\"").text(&line).raw("\"/>");
            if let Some(&(x, y)) = self.points.last() {
                svg.raw("<circle class=\"dot\" r=\"4\" cx=\"")
                    .fmt(format_args!("{:.1}", px(x)))
                    .raw("\" cy=\"")
                    .fmt(format_args!("{:.1}", py(y)))
                    .raw("\"/>");
            }
        }
        let axis_y = HEIGHT - BOTTOM;
        svg.raw("<line class=\"axis-line\" x1=\"")
            .fmt(format_args!("{LEFT}"))
            .raw("\" x2=\"")
            .fmt(format_args!("{}", LEFT + plot_w))
            .raw("\" y1=\"")
            .fmt(format_args!("{axis_y}"))
            .raw("\" y2=\"")
            .fmt(format_args!("{axis_y}"))
            .raw("\"/>");
        svg.raw("<text class=\"axis\" x=\"")
            .fmt(format_args!("{LEFT}"))
            .raw("\" y=\"")
            .fmt(format_args!("{}", axis_y + 16.0))
            .raw("\">")
            .text(&self.x_ends.0)
            .raw("</text><text class=\"axis\" text-anchor=\"end\" x=\"")
            .fmt(format_args!("{}", LEFT + plot_w))
            .raw("\" y=\"")
            .fmt(format_args!("{}", axis_y + 16.0))
            .raw("\">")
            .text(&self.x_ends.1)
            .raw("</text><text class=\"axis-title\" text-anchor=\"middle\" x=\"")
            .fmt(format_args!("{}", LEFT + plot_w / 2.0))
            .raw("\" y=\"")
            .fmt(format_args!("{}", axis_y + 34.0))
            .raw("\">")
            .text(self.x_label)
            .raw("</text></svg>");
        svg
    }
}

/// What a heat map cell shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cell {
    Resolved,
    Unresolved,
    Pending,
    /// No run or no verdict.
    Empty,
}

impl Cell {
    fn class(self) -> &'static str {
        match self {
            Self::Resolved => "cell resolved",
            Self::Unresolved => "cell unresolved",
            Self::Pending => "cell pending",
            Self::Empty => "cell empty",
        }
    }
}

/// One heat map cell: its state, a tooltip, and the run it links to.
#[derive(Debug, Clone)]
pub(crate) struct HeatCell {
    pub cell: Cell,
    pub tooltip: String,
    pub run_id: Option<String>,
}

/// A grid of results: a row per agent or validator, a column per task.
#[derive(Debug)]
pub(crate) struct HeatMap<'a> {
    pub title: &'a str,
    pub columns: Vec<String>,
    /// Label, and where the label links (`/agents/<digest>`), when it does.
    pub rows: Vec<(String, Option<String>, Vec<HeatCell>)>,
}

const CELL: f64 = 26.0;
const GAP: f64 = 3.0;
const ROW_LABEL: f64 = 170.0;
const COLUMN_LABEL: f64 = 130.0;
/// Room right of the last column for its slanted label.
const COLUMN_LABEL_TAIL: f64 = 130.0;

impl HeatMap<'_> {
    pub(crate) fn render(&self) -> Html {
        let width = ROW_LABEL + (CELL + GAP) * self.columns.len() as f64 + COLUMN_LABEL_TAIL;
        let height = COLUMN_LABEL + (CELL + GAP) * self.rows.len() as f64 + 4.0;
        let mut svg = Html::new();
        svg.raw("<svg class=\"chart heatmap\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\" width=\"")
            .fmt(format_args!("{width:.0}"))
            .raw("\" height=\"")
            .fmt(format_args!("{height:.0}"))
            .raw("\" viewBox=\"0 0 ")
            .fmt(format_args!("{width:.0} {height:.0}"))
            .raw("\"><title>")
            .text(self.title)
            .raw("</title>");
        for (i, column) in self.columns.iter().enumerate() {
            let x = ROW_LABEL + (CELL + GAP) * i as f64 + CELL / 2.0;
            svg.raw("<text class=\"col-label\" transform=\"translate(")
                .fmt(format_args!("{x:.1},{:.1}", COLUMN_LABEL - 6.0))
                .raw(") rotate(-45)\">")
                .text(&super::html::short(column, 24))
                .raw("<title>")
                .text(column)
                .raw("</title></text>");
        }
        for (r, (label, href, cells)) in self.rows.iter().enumerate() {
            let y = COLUMN_LABEL + (CELL + GAP) * r as f64;
            let label_y = y + CELL / 2.0 + 4.0;
            let text = super::html::short(label, 22);
            match href {
                Some(href) => {
                    svg.raw("<a href=\"").text(href).raw("\">");
                    row_label(&mut svg, label_y, &text, label);
                    svg.raw("</a>");
                }
                None => row_label(&mut svg, label_y, &text, label),
            }
            for (c, cell) in cells.iter().enumerate() {
                let x = ROW_LABEL + (CELL + GAP) * c as f64;
                if let Some(run) = &cell.run_id {
                    svg.raw("<a href=\"/runs/").path_segment(run).raw("\">");
                }
                svg.raw("<rect rx=\"4\" class=\"")
                    .raw(cell.cell.class())
                    .raw("\" x=\"")
                    .fmt(format_args!("{x:.1}"))
                    .raw("\" y=\"")
                    .fmt(format_args!("{y:.1}"))
                    .raw("\" width=\"26\" height=\"26\"><title>")
                    .text(&cell.tooltip)
                    .raw("</title></rect>");
                if cell.run_id.is_some() {
                    svg.raw("</a>");
                }
            }
        }
        svg.raw("</svg>");
        svg
    }
}

fn row_label(svg: &mut Html, y: f64, text: &str, full: &str) {
    svg.raw("<text class=\"row-label\" text-anchor=\"end\" x=\"")
        .fmt(format_args!("{:.1}", ROW_LABEL - 8.0))
        .raw("\" y=\"")
        .fmt(format_args!("{y:.1}"))
        .raw("\">")
        .text(text)
        .raw("<title>")
        .text(full)
        .raw("</title></text>");
}

/// Horizontal bars of shares (0..=1), one per labelled item, e.g. each task's resolve rate.
#[derive(Debug)]
pub(crate) struct Bars<'a> {
    pub title: &'a str,
    /// Label, share, and the text printed after the bar.
    pub bars: Vec<(String, f64, String)>,
}

impl Bars<'_> {
    pub(crate) fn render(&self) -> Html {
        const ROW: f64 = 24.0;
        const LABEL: f64 = 230.0;
        const BAR: f64 = 400.0;
        let height = ROW * self.bars.len() as f64 + 8.0;
        let mut svg = Html::new();
        svg.raw("<svg class=\"chart bars\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"")
            .fmt(format_args!("{height:.0}"))
            .raw("\" viewBox=\"0 0 800 ")
            .fmt(format_args!("{height:.0}"))
            .raw("\"><title>")
            .text(self.title)
            .raw("</title>");
        for (i, (label, share, note)) in self.bars.iter().enumerate() {
            let y = ROW * i as f64 + 4.0;
            let class = match *share {
                s if s <= 0.0 => "bar none",
                s if s >= 1.0 => "bar all",
                _ => "bar some",
            };
            svg.raw("<text class=\"row-label\" text-anchor=\"end\" x=\"")
                .fmt(format_args!("{:.0}", LABEL - 8.0))
                .raw("\" y=\"")
                .fmt(format_args!("{:.1}", y + 15.0))
                .raw("\">")
                .text(&super::html::short(label, 34))
                .raw("<title>")
                .text(label)
                .raw("</title></text><rect class=\"track\" rx=\"3\" x=\"")
                .fmt(format_args!("{LABEL}"))
                .raw("\" y=\"")
                .fmt(format_args!("{y:.1}"))
                .raw("\" width=\"400\" height=\"18\"/><rect rx=\"3\" class=\"")
                .raw(class)
                .raw("\" x=\"")
                .fmt(format_args!("{LABEL}"))
                .raw("\" y=\"")
                .fmt(format_args!("{y:.1}"))
                .raw("\" width=\"")
                .fmt(format_args!("{:.1}", (BAR * share.clamp(0.0, 1.0)).max(2.0)))
                .raw("\" height=\"18\"/><text class=\"bar-note\" x=\"")
                .fmt(format_args!("{:.0}", LABEL + BAR + 10.0))
                .raw("\" y=\"")
                .fmt(format_args!("{:.1}", y + 14.0))
                .raw("\">")
                .text(note)
                .raw("</text>");
        }
        svg.raw("</svg>");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_chart_draws_each_change_and_escapes_its_labels() {
        let points = [(1.0, 0.0), (2.0, 0.5), (3.0, 1.0)];
        let chart = StepChart { points: &points, x_label: "verdicts <in> the ledger", x_ends: ("1".into(), "3".into()), title: "t" };
        let svg = chart.render().into_string();
        assert!(svg.contains("M48.0,196.0 H376.0 V106.0 H704.0 V16.0"), "{svg}");
        assert!(svg.contains("verdicts &lt;in&gt; the ledger"));
    }

    #[test]
    fn heat_map_cells_link_their_runs() {
        let cell = HeatCell { cell: Cell::Resolved, tooltip: "resolved".into(), run_id: Some("run 1".into()) };
        let map = HeatMap { title: "m", columns: vec!["task-a".to_owned()], rows: vec![("<b>".into(), None, vec![cell])] };
        let svg = map.render().into_string();
        assert!(svg.contains("<a href=\"/runs/run%201\"><rect rx=\"4\" class=\"cell resolved\""), "{svg}");
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
    }
}
