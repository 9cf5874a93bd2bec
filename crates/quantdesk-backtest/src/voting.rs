//! The decision system's voting engine: several signal models each vote BUY, SELL or HOLD with a
//! confidence in [0, 1]; a combiner turns the votes into one decision; a risk controller can veto
//! new buys. Models are streaming: feed bars one at a time.

use quantdesk_core::Bar;
use std::cmp::Ordering;

use quantdesk_core::indicators::{Bollinger, Indicator, Macd, Rsi, Sma, rsi_cmp};
use serde::{Deserialize, Serialize};

use crate::engine::{Context, Strategy};
use crate::order::{Side, Size};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    Buy,
    Sell,
    Hold,
}

impl Action {
    /// BUY, SELL or HOLD, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Buy => "BUY",
            Action::Sell => "SELL",
            Action::Hold => "HOLD",
        }
    }
}

/// One model's vote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    pub model: String,
    pub action: Action,
    /// How sure the model is, from 0 to 1.
    pub confidence: f64,
}

/// A signal model.
pub trait SignalModel: Send {
    fn name(&self) -> &'static str;
    /// Consumes the next bar; `None` while the model is warming up.
    fn update(&mut self, bar: &Bar) -> Option<Vote>;
}

fn vote(model: &'static str, action: Action, confidence: f64) -> Option<Vote> {
    Some(Vote { model: model.into(), action, confidence: confidence.clamp(0.0, 1.0) })
}

/// Trend: the fast average above the slow one votes BUY, below votes SELL, equal (exactly, by
/// [`Sma::cmp_mean`]) HOLD; confidence grows with the gap (a 5 % gap is full confidence).
pub struct MaTrend {
    fast: Sma,
    slow: Sma,
}

impl MaTrend {
    pub fn new(fast: usize, slow: usize) -> Self {
        MaTrend { fast: Sma::new(fast), slow: Sma::new(slow) }
    }
}

impl SignalModel for MaTrend {
    fn name(&self) -> &'static str {
        "ma_trend"
    }
    fn update(&mut self, bar: &Bar) -> Option<Vote> {
        let (f, s) = (self.fast.next(bar.close), self.slow.next(bar.close));
        let (f, s) = (f?, s?);
        let gap = f / s - 1.0;
        let (action, confidence) = match self.fast.cmp_mean(&self.slow) {
            Some(Ordering::Greater) => (Action::Buy, gap.abs() * 20.0),
            Some(Ordering::Less) => (Action::Sell, gap.abs() * 20.0),
            _ => (Action::Hold, 0.0),
        };
        vote(self.name(), action, confidence)
    }
}

/// Mean reversion on RSI: below `lower` votes BUY, above `upper` SELL, otherwise HOLD (at a
/// threshold within [`quantdesk_core::indicators::RSI_TIE`] too).
pub struct RsiModel {
    rsi: Rsi,
    lower: f64,
    upper: f64,
}

impl RsiModel {
    pub fn new(n: usize, lower: f64, upper: f64) -> Self {
        RsiModel { rsi: Rsi::new(n), lower, upper }
    }
}

impl SignalModel for RsiModel {
    fn name(&self) -> &'static str {
        "rsi"
    }
    fn update(&mut self, bar: &Bar) -> Option<Vote> {
        let r = self.rsi.next(bar.close)?;
        if rsi_cmp(r, self.lower) == Some(Ordering::Less) {
            vote(self.name(), Action::Buy, (self.lower - r) / self.lower.max(1e-9))
        } else if rsi_cmp(r, self.upper) == Some(Ordering::Greater) {
            vote(self.name(), Action::Sell, (r - self.upper) / (100.0 - self.upper).max(1e-9))
        } else {
            vote(self.name(), Action::Hold, 1.0 - (r - 50.0).abs() / 50.0)
        }
    }
}

/// Momentum on MACD: a positive histogram votes BUY, a negative one SELL, zero (within rounding
/// noise, [`quantdesk_core::indicators::MacdValue::hist_sign`]) HOLD; confidence by the histogram
/// relative to price (0.5 % is full confidence).
pub struct MacdModel {
    macd: Macd,
}

impl MacdModel {
    pub fn new() -> Self {
        MacdModel { macd: Macd::new(12, 26, 9) }
    }
}

impl Default for MacdModel {
    fn default() -> Self {
        Self::new()
    }
}

impl SignalModel for MacdModel {
    fn name(&self) -> &'static str {
        "macd"
    }
    fn update(&mut self, bar: &Bar) -> Option<Vote> {
        let v = self.macd.next(bar.close)?;
        let strength = (v.hist / bar.close).abs() * 200.0;
        let action = match v.hist_sign(bar.close) {
            Ordering::Greater => Action::Buy,
            Ordering::Less => Action::Sell,
            Ordering::Equal => Action::Hold,
        };
        vote(self.name(), action, strength)
    }
}

/// Bands: a close below the lower band votes BUY, above the upper band SELL (placed exactly by
/// [`Bollinger::locate`]: a close on a band is HOLD).
pub struct BollingerModel {
    bands: Bollinger,
}

impl BollingerModel {
    pub fn new(n: usize, k: f64) -> Self {
        BollingerModel { bands: Bollinger::new(n, k) }
    }
}

impl SignalModel for BollingerModel {
    fn name(&self) -> &'static str {
        "bollinger"
    }
    fn update(&mut self, bar: &Bar) -> Option<Vote> {
        let b = self.bands.next(bar.close)?;
        let width = (b.upper - b.middle).max(1e-12);
        let z = (bar.close - b.middle) / width;
        let at = self.bands.locate(bar.close)?;
        if at.lower == Ordering::Less {
            vote(self.name(), Action::Buy, -z - 1.0 + 0.5)
        } else if at.upper == Ordering::Greater {
            vote(self.name(), Action::Sell, z - 1.0 + 0.5)
        } else {
            vote(self.name(), Action::Hold, 1.0 - z.abs())
        }
    }
}

/// The standard model set.
pub fn standard_models() -> Vec<Box<dyn SignalModel>> {
    vec![
        Box::new(MaTrend::new(5, 20)),
        Box::new(RsiModel::new(14, 30.0, 70.0)),
        Box::new(MacdModel::new()),
        Box::new(BollingerModel::new(20, 2.0)),
    ]
}

/// How votes become one decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Combiner {
    /// The action with the most votes; a tie is HOLD.
    Majority,
    /// Each model's vote counts its weight (by model name; 1 when absent).
    Weighted { weights: Vec<(String, f64)> },
    /// Confidences are summed per action; an action wins when its share of the total is at
    /// least `threshold`, else HOLD.
    Confidence { threshold: f64 },
}

/// Relative difference below which two vote totals (or a score and its threshold) are equal.
pub const VOTE_TIE: f64 = 1e-9;

/// A combined decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub action: Action,
    /// The winning action's share of the votes (0 to 1).
    pub score: f64,
    pub votes: Vec<Vote>,
}

impl Combiner {
    pub fn combine(&self, votes: Vec<Vote>) -> Decision {
        let weight = |v: &Vote| -> f64 {
            match self {
                Combiner::Majority => 1.0,
                Combiner::Weighted { weights } => {
                    weights.iter().find(|(m, _)| *m == v.model).map(|w| w.1).unwrap_or(1.0)
                }
                Combiner::Confidence { .. } => v.confidence,
            }
        };
        let mut totals = [(Action::Buy, 0.0), (Action::Sell, 0.0), (Action::Hold, 0.0)];
        for v in &votes {
            if let Some(t) = totals.iter_mut().find(|(a, _)| *a == v.action) {
                t.1 += weight(v);
            }
        }
        let sum: f64 = totals.iter().map(|t| t.1).sum();
        let (buy, sell, hold) = (totals[0].1, totals[1].1, totals[2].1);
        // Sums of decimal confidences and weights carry rounding (0.1 + 0.7 = 0.7999999999999999
        // against a 0.8): totals within VOTE_TIE (relative) of each other are a tie, so the
        // order of the votes never decides a trade.
        let above = |a: f64, b: f64| a - b > VOTE_TIE * a.abs().max(b.abs()).max(f64::MIN_POSITIVE);
        let (mut action, top) = if above(buy, sell) && above(buy, hold) {
            (Action::Buy, buy)
        } else if above(sell, buy) && above(sell, hold) {
            (Action::Sell, sell)
        } else {
            (Action::Hold, hold.max(buy).max(sell))
        };
        let score = if sum > 0.0 { top / sum } else { 0.0 };
        if let Combiner::Confidence { threshold } = self
            && above(*threshold, score)
        {
            action = Action::Hold;
        }
        Decision { action, score, votes }
    }
}

/// Risk level from recent volatility: annualised σ of the last 20 daily returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

impl RiskLevel {
    /// low, medium or high, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }
}

pub fn risk_level(bars: &[Bar]) -> RiskLevel {
    let tail = &bars[bars.len().saturating_sub(21)..];
    let r: Vec<f64> = tail.windows(2).map(|w| w[1].close / w[0].close - 1.0).collect();
    if r.len() < 2 {
        return RiskLevel::Medium;
    }
    let m = r.iter().sum::<f64>() / r.len() as f64;
    let sd = (r.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (r.len() - 1) as f64).sqrt() * 252f64.sqrt();
    if sd < 0.2 {
        RiskLevel::Low
    } else if sd < 0.4 {
        RiskLevel::Medium
    } else {
        RiskLevel::High
    }
}

/// Today's decision for one symbol's bars (oldest first).
pub fn decide(bars: &[Bar], combiner: &Combiner) -> Option<(Decision, RiskLevel)> {
    let mut models = standard_models();
    let mut last = Vec::new();
    for b in bars {
        last = models.iter_mut().filter_map(|m| m.update(b)).collect();
    }
    if last.is_empty() {
        return None;
    }
    Some((combiner.combine(last), risk_level(bars)))
}

/// The voting engine as a strategy, with a risk controller: positions of at most `max_position`
/// of equity, and no new buys on a step where equity fell more than `daily_loss_limit`.
pub struct Voting {
    combiner: Combiner,
    max_position: f64,
    daily_loss_limit: f64,
    models: Vec<Vec<Box<dyn SignalModel>>>,
    last_equity: Option<f64>,
}

impl Voting {
    pub fn new(combiner: Combiner, max_position: f64, daily_loss_limit: f64) -> Self {
        Voting { combiner, max_position, daily_loss_limit, models: Vec::new(), last_equity: None }
    }
}

impl Strategy for Voting {
    fn on_bar(&mut self, ctx: &mut Context<'_>) {
        while self.models.len() < ctx.len() {
            self.models.push(standard_models());
        }
        let equity = ctx.equity();
        let loss_hit = self.last_equity.is_some_and(|prev| prev > 0.0 && equity / prev - 1.0 < -self.daily_loss_limit);
        self.last_equity = Some(equity);
        for i in 0..ctx.len() {
            if !ctx.updated(i) {
                continue;
            }
            let Some(bar) = ctx.bars(i).last().copied() else { continue };
            let votes: Vec<Vote> = self.models[i].iter_mut().filter_map(|m| m.update(&bar)).collect();
            if votes.is_empty() {
                continue;
            }
            match self.combiner.combine(votes).action {
                Action::Buy if ctx.position(i) == 0 && !loss_hit => {
                    ctx.market(i, Side::Buy, Size::PercentOfEquity(self.max_position));
                }
                Action::Sell if ctx.position(i) > 0 => ctx.market(i, Side::Sell, Size::Close),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(model: &str, action: Action, confidence: f64) -> Vote {
        Vote { model: model.into(), action, confidence }
    }

    #[test]
    fn ties_of_rounded_sums_are_ties() {
        // 0.1 + 0.7 = 0.7999999999999999 in f64: before, SELL's 0.8 "won" (and with score
        // 0.5000000000000001 it passed a 0.5 threshold); it is a tie, so HOLD.
        let v = |model: &str, action, confidence| Vote { model: model.into(), action, confidence };
        let votes = vec![v("a", Action::Buy, 0.1), v("b", Action::Buy, 0.7), v("c", Action::Sell, 0.8)];
        let buy: f64 = votes.iter().filter(|x| x.action == Action::Buy).map(|x| x.confidence).sum();
        assert!(buy < 0.8, "the rounding this test is about: {buy}");
        assert_eq!(Combiner::Confidence { threshold: 0.5 }.combine(votes.clone()).action, Action::Hold);
        let weights = vec![("a".into(), 0.1), ("b".into(), 0.7), ("c".into(), 0.8)];
        assert_eq!(Combiner::Weighted { weights }.combine(votes).action, Action::Hold);
        // A score equal to the threshold up to rounding passes it: (0.7 + 0.15) / 1.7 is exactly
        // one half, computed as 0.49999999999999994 (HOLD before).
        let votes = vec![
            v("a", Action::Buy, 0.7),
            v("b", Action::Buy, 0.15),
            v("c", Action::Sell, 0.25),
            v("d", Action::Hold, 0.6),
        ];
        let d = Combiner::Confidence { threshold: 0.5 }.combine(votes);
        assert!(d.score < 0.5, "the rounding this case is about: {}", d.score);
        assert_eq!(d.action, Action::Buy, "score {}", d.score);
    }

    #[test]
    fn combiners() {
        let votes = vec![
            v("a", Action::Buy, 0.9),
            v("b", Action::Buy, 0.2),
            v("c", Action::Sell, 0.9),
            v("d", Action::Hold, 0.1),
        ];
        let d = Combiner::Majority.combine(votes.clone());
        assert_eq!((d.action, d.score), (Action::Buy, 0.5));
        let w = Combiner::Weighted { weights: vec![("c".into(), 3.0)] };
        assert_eq!(w.combine(votes.clone()).action, Action::Sell, "c outweighs a and b");
        let c = Combiner::Confidence { threshold: 0.5 };
        let d = c.combine(votes.clone());
        assert_eq!(d.action, Action::Buy, "1.1 of 2.1");
        assert!((d.score - 1.1 / 2.1).abs() < 1e-12);
        let strict = Combiner::Confidence { threshold: 0.6 };
        assert_eq!(strict.combine(votes).action, Action::Hold, "below the threshold");
        let tie = vec![v("a", Action::Buy, 1.0), v("b", Action::Sell, 1.0)];
        assert_eq!(Combiner::Majority.combine(tie).action, Action::Hold);
    }

    #[test]
    fn models_vote_on_clear_trends() {
        let up: Vec<Bar> = (0..80)
            .map(|i| {
                let p = 100.0 * 1.01f64.powi(i);
                Bar { time: i64::from(i) * 86_400, open: p, high: p, low: p, close: p, volume: 1.0, amount: 0.0 }
            })
            .collect();
        let (d, risk) = decide(&up, &Combiner::Majority).unwrap();
        let trend = d.votes.iter().find(|v| v.model == "ma_trend").unwrap();
        assert_eq!(trend.action, Action::Buy);
        let rsi = d.votes.iter().find(|v| v.model == "rsi").unwrap();
        assert_eq!(rsi.action, Action::Sell, "a straight rise is overbought");
        assert_eq!(d.votes.len(), 4);
        assert_eq!(risk, RiskLevel::Low, "no volatility");
        let (early, _) = decide(&up[..5], &Combiner::Majority).unwrap();
        assert_eq!(early.votes.len(), 1, "only MACD (EMA-seeded) votes while the others warm up");
        assert!(decide(&[], &Combiner::Majority).is_none());
    }
}
