//! Coin packages, orders and payment notifications.
//!
//! A package is coins for an exact price in fen (0.01 CNY). An order copies the package's coins
//! and price, starts `pending` and ends exactly once `paid`, `cancelled`, `expired` or `refunded`.
//! A payment provider ([`PaymentProvider`]) turns a signed notification into a [`Notification`]
//! (which order, how much, the provider's event id); [`Payments::notify`] then records the event
//! and credits the order in one transaction of the store (`record_payment`), so the same event
//! delivered twice, or twenty times at once, credits once, and a notification for an unknown or
//! already final order, or for another amount, changes nothing and is logged.
//!
//! Providers:
//! - [`Stripe`]: Stripe's signed webhooks exactly: `Stripe-Signature: t=<unix seconds>,v1=<hex
//!   HMAC-SHA256 of "<t>.<raw body>" under the endpoint secret>` (several `v1` allowed, any may
//!   match), a tolerance window on `t` (300 s), the event `checkout.session.completed` with
//!   `data.object.client_reference_id` = our order number and `data.object.amount_total` in fen;
//!   the event id (`evt_…`) is the replay key.
//! - [`WeChatV2`]: WeChat Pay API v2 notifications (XML fields): `sign` = upper-case hex
//!   HMAC-SHA256 under the merchant key of the fields other than `sign` with non-empty values,
//!   sorted by name, as `k=v&…&key=<merchant key>` (`sign_type=HMAC-SHA256`). MD5 signatures
//!   (`sign_type` absent or `MD5`) are refused: quantdesk does not accept the weaker scheme.
//! - The mock provider (`payments_mock`, development only): the order's owner marks it paid.
//!
//! Alipay's notify (RSA2: SHA256withRSA over the sorted `k=v&…` string, verified with Alipay's
//! public key) is not verified yet: an RSA implementation is not among quantdesk's dependencies.

use std::sync::Arc;

use quantdesk_store::Store;
use quantdesk_store::ledger::{Order, OrderStatus, Package, PaymentOutcome};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::accounts::Actor;
use crate::clock::{iso_ms, now_ms};
use crate::config::Config;
use crate::error::AppError;

/// HMAC-SHA256 (RFC 2104) of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| block.map(|k| k ^ b);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(msg).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

/// Equal bytes, in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a notification was not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the provider is not configured")]
    NotConfigured,
    #[error("the signature header is missing or malformed")]
    Malformed,
    #[error("the timestamp is outside the tolerance window")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
    #[error("the signed body is not a notification: {0}")]
    Body(String),
}

/// What a verified notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// An order was paid.
    Paid {
        event_id: String,
        order_no: String,
        /// In the currency's minor unit (fen).
        amount_fen: i64,
        /// Lower-case ISO currency, when the provider says.
        currency: Option<String>,
        /// The provider's own reference (a Checkout Session id, a transaction id).
        provider_ref: String,
    },
    /// A genuine notification of something else (another event type, an unpaid session).
    Ignored { event_id: String, what: String },
}

/// A payment provider: verifies its notifications.
pub trait PaymentProvider: Send + Sync {
    /// `stripe`, `wechat`, … (the `payment_method` of orders and the event ids' namespace).
    fn name(&self) -> &'static str;
    /// Checks the notification's signature over its raw body and reads it.
    fn verify(
        &self,
        headers: &(dyn Fn(&str) -> Option<String> + Sync),
        body: &[u8],
        now_secs: i64,
    ) -> Result<Notification, SignatureError>;
}

/// Stripe's signed webhooks.
pub struct Stripe {
    secret: String,
    tolerance_secs: i64,
}

impl Stripe {
    pub fn new(secret: impl Into<String>, tolerance_secs: i64) -> Self {
        Stripe { secret: secret.into(), tolerance_secs }
    }

    /// The `Stripe-Signature` value for `body` at `t` (what Stripe sends; for tests and tools).
    pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        let mut msg = format!("{t}.").into_bytes();
        msg.extend_from_slice(body);
        format!("t={t},v1={}", hex::encode(hmac_sha256(secret.as_bytes(), &msg)))
    }
}

impl PaymentProvider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn verify(
        &self,
        headers: &(dyn Fn(&str) -> Option<String> + Sync),
        body: &[u8],
        now_secs: i64,
    ) -> Result<Notification, SignatureError> {
        if self.secret.is_empty() {
            return Err(SignatureError::NotConfigured);
        }
        let header = headers("stripe-signature").ok_or(SignatureError::Malformed)?;
        let mut t = None;
        let mut v1 = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", v)) => t = v.parse::<i64>().ok(),
                Some(("v1", v)) => v1.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?),
                _ => {}
            }
        }
        let t = t.ok_or(SignatureError::Malformed)?;
        if v1.is_empty() {
            return Err(SignatureError::Malformed);
        }
        let mut msg = format!("{t}.").into_bytes();
        msg.extend_from_slice(body);
        let want = hmac_sha256(self.secret.as_bytes(), &msg);
        if !v1.iter().any(|s| same(s, &want)) {
            return Err(SignatureError::Mismatch);
        }
        if (now_secs - t).abs() > self.tolerance_secs {
            return Err(SignatureError::Stale);
        }
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| SignatureError::Body(e.to_string()))?;
        let event_id = v["id"].as_str().filter(|s| !s.is_empty()).ok_or(SignatureError::Body("no event id".into()))?;
        let kind = v["type"].as_str().unwrap_or("");
        let o = &v["data"]["object"];
        let paid = o["payment_status"].as_str().is_none_or(|s| s == "paid");
        if kind != "checkout.session.completed" || !paid {
            let what = format!("{kind} ({})", o["payment_status"].as_str().unwrap_or("-"));
            return Ok(Notification::Ignored { event_id: event_id.into(), what });
        }
        let order_no =
            o["client_reference_id"].as_str().ok_or(SignatureError::Body("no client_reference_id".into()))?;
        let amount_fen = o["amount_total"].as_i64().ok_or(SignatureError::Body("no amount_total".into()))?;
        Ok(Notification::Paid {
            event_id: event_id.into(),
            order_no: order_no.into(),
            amount_fen,
            currency: o["currency"].as_str().map(str::to_lowercase),
            provider_ref: o["id"].as_str().unwrap_or("").into(),
        })
    }
}

/// WeChat Pay API v2 notifications, HMAC-SHA256 signatures.
pub struct WeChatV2 {
    key: String,
}

impl WeChatV2 {
    pub fn new(key: impl Into<String>) -> Self {
        WeChatV2 { key: key.into() }
    }

    /// The `sign` of `fields` under `key` (HMAC-SHA256, upper-case hex).
    pub fn sign(key: &str, fields: &[(String, String)]) -> String {
        let mut kv: Vec<&(String, String)> = fields.iter().filter(|(k, v)| k != "sign" && !v.is_empty()).collect();
        kv.sort_by(|a, b| a.0.cmp(&b.0));
        let mut s = kv.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        s.push_str("&key=");
        s.push_str(key);
        hex::encode_upper(hmac_sha256(key.as_bytes(), s.as_bytes()))
    }

    /// The fields of a notification's flat `<xml><k><![CDATA[v]]></k>…</xml>`.
    pub fn fields(xml: &str) -> Result<Vec<(String, String)>, SignatureError> {
        let inner = xml
            .trim()
            .strip_prefix("<xml>")
            .and_then(|s| s.strip_suffix("</xml>"))
            .ok_or(SignatureError::Body("not a <xml> document".into()))?;
        let mut out = Vec::new();
        let mut rest = inner.trim();
        while !rest.is_empty() {
            let open_end = rest.find('>').ok_or(SignatureError::Body("a tag is not closed".into()))?;
            let name = rest.get(1..open_end).filter(|n| rest.starts_with('<') && !n.is_empty());
            let name = name.ok_or(SignatureError::Body("expected a tag".into()))?.to_string();
            let close = format!("</{name}>");
            let after = &rest[open_end + 1..];
            let end = after.find(&close).ok_or(SignatureError::Body(format!("{name} is not closed")))?;
            let raw = &after[..end];
            let value = raw.strip_prefix("<![CDATA[").and_then(|v| v.strip_suffix("]]>")).unwrap_or(raw);
            out.push((name, value.to_string()));
            rest = after[end + close.len()..].trim_start();
        }
        Ok(out)
    }
}

impl PaymentProvider for WeChatV2 {
    fn name(&self) -> &'static str {
        "wechat"
    }

    fn verify(
        &self,
        _headers: &(dyn Fn(&str) -> Option<String> + Sync),
        body: &[u8],
        _now_secs: i64,
    ) -> Result<Notification, SignatureError> {
        if self.key.is_empty() {
            return Err(SignatureError::NotConfigured);
        }
        let xml = std::str::from_utf8(body).map_err(|_| SignatureError::Body("not UTF-8".into()))?;
        let fields = Self::fields(xml)?;
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if get("sign_type") != Some("HMAC-SHA256") {
            return Err(SignatureError::Malformed);
        }
        let sign = get("sign").ok_or(SignatureError::Malformed)?;
        if !same(sign.as_bytes(), Self::sign(&self.key, &fields).as_bytes()) {
            return Err(SignatureError::Mismatch);
        }
        let event_id = get("transaction_id").unwrap_or("").to_string();
        if get("return_code") != Some("SUCCESS") || get("result_code") != Some("SUCCESS") || event_id.is_empty() {
            return Ok(Notification::Ignored { event_id, what: "not a successful payment".into() });
        }
        Ok(Notification::Paid {
            order_no: get("out_trade_no").unwrap_or("").into(),
            amount_fen: get("total_fee")
                .and_then(|v| v.parse().ok())
                .ok_or(SignatureError::Body("no total_fee".into()))?,
            currency: get("fee_type").map(str::to_lowercase),
            provider_ref: event_id.clone(),
            event_id,
        })
    }
}

/// A package as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PackageDto {
    pub id: String,
    pub name: String,
    pub coins: i64,
    /// The exact price, in yuan with two decimals (`"10.00"`).
    pub price: String,
    /// The same price in fen (0.01 CNY).
    pub price_fen: i64,
    pub currency: String,
    pub active: bool,
}

/// `1050` fen is `"10.50"`.
pub fn yuan(fen: i64) -> String {
    format!("{}{}.{:02}", if fen < 0 { "-" } else { "" }, fen.unsigned_abs() / 100, fen.unsigned_abs() % 100)
}

impl From<Package> for PackageDto {
    fn from(p: Package) -> Self {
        PackageDto {
            price: yuan(p.price_fen),
            id: p.id,
            name: p.name,
            coins: p.coins,
            price_fen: p.price_fen,
            currency: p.currency,
            active: p.active,
        }
    }
}

/// An order as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrderDto {
    pub order_no: String,
    /// The exact amount to pay, in yuan with two decimals.
    pub amount: String,
    pub amount_fen: i64,
    pub currency: String,
    pub coins: i64,
    pub package_id: String,
    pub payment_method: String,
    /// pending, paid, cancelled, expired or refunded.
    pub status: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// When a pending order expires.
    pub expires_at: String,
}

/// The payment methods an order may name.
pub const METHODS: [&str; 4] = ["stripe", "wechat", "alipay", "mock"];

/// The order and payment services. Cheap to clone.
#[derive(Clone)]
pub struct Payments {
    store: Arc<dyn Store>,
    mock: bool,
    ttl_ms: i64,
    stripe: Arc<Stripe>,
    wechat: Arc<WeChatV2>,
}

impl Payments {
    pub fn from_config(store: Arc<dyn Store>, cfg: &Config) -> Self {
        let p = &cfg.payments;
        Payments {
            store,
            mock: p.payments_mock,
            ttl_ms: p.order_ttl_mins.saturating_mul(60_000),
            stripe: Arc::new(Stripe::new(p.payments_webhook_secret.expose(), p.payments_webhook_tolerance_secs)),
            wechat: Arc::new(WeChatV2::new(p.wechat_api_key.expose())),
        }
    }

    /// Whether orders may name `method`: Stripe and WeChat Pay when their secret is set, the
    /// mock provider when `payments_mock` is on. (Alipay is not yet verified, so not offered.)
    pub fn enabled(&self, method: &str) -> bool {
        match method {
            "stripe" => !self.stripe.secret.is_empty(),
            "wechat" => !self.wechat.key.is_empty(),
            "mock" => self.mock,
            _ => false,
        }
    }

    fn dto(&self, o: Order) -> OrderDto {
        OrderDto {
            amount: yuan(o.amount_fen),
            expires_at: iso_ms(o.created_at.saturating_add(self.ttl_ms)),
            created_at: iso_ms(o.created_at),
            status: o.status.as_str().into(),
            order_no: o.order_no,
            amount_fen: o.amount_fen,
            currency: o.currency,
            coins: o.coins,
            package_id: o.package_id,
            payment_method: o.payment_method,
        }
    }

    /// The packages on offer (all of them for `all`, the administrators' view).
    pub async fn packages(&self, all: bool) -> Result<Vec<PackageDto>, AppError> {
        Ok(self.store.packages(all).await?.into_iter().map(PackageDto::from).collect())
    }

    /// Creates or replaces a package (admins).
    #[allow(clippy::too_many_arguments)]
    pub async fn put_package(
        &self,
        admin: &Actor,
        id: &str,
        name: &str,
        coins: i64,
        price_fen: i64,
        active: bool,
        sort: i64,
    ) -> Result<PackageDto, AppError> {
        if !admin.is_admin() {
            return Err(AppError::forbidden("editing packages needs the admin scope"));
        }
        let name = name.trim();
        if name.is_empty() {
            return Err(AppError::invalid("a package needs a name").with_code("invalid_params").with_field("name"));
        }
        let p = Package {
            id: id.into(),
            name: name.into(),
            coins,
            price_fen,
            currency: "CNY".into(),
            active,
            sort,
            updated_at: now_ms(),
        };
        self.store.put_package(&p).await?;
        tracing::info!(package = id, coins, price_fen, active, by = %admin.email, "package saved");
        Ok(p.into())
    }

    /// A new pending order of `package_id` to pay with `method`.
    pub async fn create_order(&self, actor: &Actor, package_id: &str, method: &str) -> Result<OrderDto, AppError> {
        if !self.enabled(method) {
            return Err(AppError::invalid(format!("the payment method {method} is not available"))
                .with_code("invalid_params")
                .with_field("payment_method"));
        }
        let p = self.store.package(package_id).await?.filter(|p| p.active).ok_or_else(|| {
            AppError::invalid(format!("no package {package_id} on offer"))
                .with_code("invalid_params")
                .with_field("package_id")
        })?;
        let now = now_ms();
        let stamp = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default().format("%Y%m%d%H%M%S");
        let order_no = format!("QD{stamp}{}", crate::accounts::secrets::random_hex(5).to_uppercase());
        let o = Order {
            order_no,
            user_id: actor.user_id,
            package_id: p.id,
            coins: p.coins,
            amount_fen: p.price_fen,
            currency: p.currency,
            payment_method: method.into(),
            status: OrderStatus::Pending,
            provider_ref: String::new(),
            created_at: now,
            updated_at: now,
        };
        self.store.create_order(&o).await?;
        tracing::info!(order = %o.order_no, user = actor.user_id, amount_fen = o.amount_fen, method, "order created");
        Ok(self.dto(o))
    }

    async fn own(&self, actor: &Actor, order_no: &str) -> Result<Order, AppError> {
        self.expire().await?;
        self.store
            .order(order_no)
            .await?
            .filter(|o| o.user_id == actor.user_id || actor.is_admin())
            .ok_or_else(|| AppError::not_found(format!("no order {order_no}")))
    }

    /// One of the caller's orders.
    pub async fn order(&self, actor: &Actor, order_no: &str) -> Result<OrderDto, AppError> {
        Ok(self.dto(self.own(actor, order_no).await?))
    }

    /// The caller's orders, newest first.
    pub async fn orders(&self, actor: &Actor, limit: u32, offset: u32) -> Result<Vec<OrderDto>, AppError> {
        self.expire().await?;
        Ok(self.store.orders(actor.user_id, limit, offset).await?.into_iter().map(|o| self.dto(o)).collect())
    }

    /// Cancels the caller's pending order (409 when it is no longer pending).
    pub async fn cancel(&self, actor: &Actor, order_no: &str) -> Result<OrderDto, AppError> {
        let o = self.own(actor, order_no).await?;
        if !self.store.close_order(&o.order_no, OrderStatus::Cancelled, now_ms()).await? {
            let now = self.own(actor, order_no).await?;
            return Err(AppError::conflict(format!("the order is {}", now.status.as_str())));
        }
        self.order(actor, order_no).await
    }

    /// Pending orders older than `order_ttl_mins` expire.
    pub async fn expire(&self) -> Result<u64, AppError> {
        let now = now_ms();
        Ok(self.store.expire_orders(now - self.ttl_ms, now).await?)
    }

    /// The mock provider pays the caller's order (only with `payments_mock`; otherwise 404).
    pub async fn mock_pay(&self, actor: &Actor, order_no: &str) -> Result<OrderDto, AppError> {
        if !self.mock {
            return Err(AppError::not_found("the mock payment provider is off"));
        }
        let o = self.own(actor, order_no).await?;
        if o.payment_method != "mock" {
            return Err(AppError::conflict("this order is paid through another provider"));
        }
        let n = Notification::Paid {
            event_id: format!("mock:{}", o.order_no),
            order_no: o.order_no.clone(),
            amount_fen: o.amount_fen,
            currency: None,
            provider_ref: "mock".into(),
        };
        self.apply("mock", n).await?;
        self.order(actor, order_no).await
    }

    /// A Stripe webhook: verified, then applied. A bad or stale signature is
    /// [`crate::ErrorKind::Forbidden`] `bad_signature` (the webhook is a public path: its
    /// signature is its credential).
    pub async fn stripe_webhook(
        &self,
        headers: &(dyn Fn(&str) -> Option<String> + Sync),
        body: &[u8],
    ) -> Result<&'static str, AppError> {
        self.notify(&*self.stripe, headers, body, crate::clock::now_secs()).await
    }

    /// A WeChat Pay (v2) notification: verified, then applied.
    pub async fn wechat_notify(&self, body: &[u8]) -> Result<&'static str, AppError> {
        self.notify(&*self.wechat, &|_| None, body, crate::clock::now_secs()).await
    }

    /// Verifies a notification with `provider` and applies it; answers what it did
    /// (`credited`, `duplicate_event`, `unknown_order`, `final_order`, `amount_mismatch`,
    /// `currency_mismatch`, `ignored`).
    pub async fn notify(
        &self,
        provider: &dyn PaymentProvider,
        headers: &(dyn Fn(&str) -> Option<String> + Sync),
        body: &[u8],
        now_secs: i64,
    ) -> Result<&'static str, AppError> {
        let n = provider.verify(headers, body, now_secs).map_err(|e| {
            tracing::warn!(provider = provider.name(), error = %e, "payment notification refused");
            AppError::forbidden(format!("the notification's signature is not valid: {e}")).with_code("bad_signature")
        })?;
        self.apply(provider.name(), n).await
    }

    async fn apply(&self, provider: &str, n: Notification) -> Result<&'static str, AppError> {
        let (event_id, order_no, amount_fen, currency, provider_ref) = match n {
            Notification::Ignored { event_id, what } => {
                tracing::info!(provider, event = %event_id, what, "payment notification ignored");
                return Ok("ignored");
            }
            Notification::Paid { event_id, order_no, amount_fen, currency, provider_ref } => {
                (event_id, order_no, amount_fen, currency, provider_ref)
            }
        };
        if let (Some(c), Some(o)) = (&currency, self.store.order(&order_no).await?)
            && !c.eq_ignore_ascii_case(&o.currency)
        {
            tracing::warn!(provider, event = %event_id, order = %order_no, currency = %c, "payment in another currency refused");
            return Ok("currency_mismatch");
        }
        let outcome =
            self.store.record_payment(provider, &event_id, &order_no, amount_fen, &provider_ref, now_ms()).await?;
        match &outcome {
            PaymentOutcome::Credited(e) => {
                tracing::info!(provider, event = %event_id, order = %order_no, coins = e.amount, "order paid")
            }
            PaymentOutcome::DuplicateEvent => {
                tracing::info!(provider, event = %event_id, order = %order_no, "payment notification replayed")
            }
            PaymentOutcome::AmountMismatch { expected, paid } => tracing::warn!(
                provider, event = %event_id, order = %order_no, expected, paid, "payment of another amount refused"
            ),
            other => {
                tracing::warn!(provider, event = %event_id, order = %order_no, outcome = other.as_str(), "payment notification changed nothing")
            }
        }
        Ok(outcome.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 and test case 6 (a key longer than the block).
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn yuan_is_exact() {
        assert_eq!(
            (yuan(1000), yuan(1), yuan(123_456), yuan(-5)),
            ("10.00".into(), "0.01".into(), "1234.56".into(), "-0.05".into())
        );
    }

    fn headers(sig: String) -> impl Fn(&str) -> Option<String> {
        move |k| (k == "stripe-signature").then(|| sig.clone())
    }

    #[test]
    fn stripe_signatures_are_checked_over_the_raw_body_with_a_tolerance() {
        let body = br#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_1","client_reference_id":"QD1","amount_total":1000,"currency":"cny","payment_status":"paid"}}}"#;
        let s = Stripe::new("whsec_test", 300);
        let t = 1_700_000_000;
        let sig = Stripe::sign("whsec_test", t, body);
        assert!(sig.starts_with("t=1700000000,v1="));
        let n = s.verify(&headers(sig.clone()), body, t + 300).unwrap();
        assert_eq!(
            n,
            Notification::Paid {
                event_id: "evt_1".into(),
                order_no: "QD1".into(),
                amount_fen: 1000,
                currency: Some("cny".into()),
                provider_ref: "cs_1".into()
            }
        );
        assert_eq!(s.verify(&headers(sig.clone()), body, t + 301), Err(SignatureError::Stale));
        assert_eq!(s.verify(&headers(sig.clone()), body, t - 301), Err(SignatureError::Stale));
        let mut altered = body.to_vec();
        altered[60] ^= 1;
        assert_eq!(s.verify(&headers(sig.clone()), &altered, t), Err(SignatureError::Mismatch));
        assert_eq!(
            Stripe::new("whsec_other", 300).verify(&headers(sig.clone()), body, t),
            Err(SignatureError::Mismatch)
        );
        // Another secret's v1 beside the right one (secret rolling) is fine; none right is not.
        let two = format!("t={t},v1={},v1={}", "00".repeat(32), sig.split("v1=").nth(1).unwrap());
        assert!(s.verify(&headers(two), body, t).is_ok());
        assert_eq!(s.verify(&headers(format!("t={t},v0=abc")), body, t), Err(SignatureError::Malformed));
        assert_eq!(s.verify(&|_| None, body, t), Err(SignatureError::Malformed));
        assert_eq!(Stripe::new("", 300).verify(&headers(sig), body, t), Err(SignatureError::NotConfigured));
        // Other events are genuine but change nothing.
        let other =
            br#"{"id":"evt_2","type":"checkout.session.completed","data":{"object":{"payment_status":"unpaid"}}}"#;
        let n = s.verify(&headers(Stripe::sign("whsec_test", t, other)), other, t).unwrap();
        assert!(matches!(n, Notification::Ignored { .. }), "{n:?}");
    }

    #[test]
    fn stripe_vector_from_openssl() {
        // printf '%s' '1700000000.{"id":"evt_1"}' | openssl dgst -sha256 -hmac whsec_test
        let sig = Stripe::sign("whsec_test", 1_700_000_000, br#"{"id":"evt_1"}"#);
        assert_eq!(sig, format!("t=1700000000,v1={}", OPENSSL_VECTOR));
    }

    const OPENSSL_VECTOR: &str = "c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925";

    #[test]
    fn wechat_v2_hmac_signatures_are_checked() {
        let key = "192006250b4c09247ec02edce69f6a2d";
        let mut fields: Vec<(String, String)> = [
            ("appid", "wx2421b1c4370ec43b"),
            ("mch_id", "10000100"),
            ("nonce_str", "5d2b6c2a8db53831f7eda20af46e531c"),
            ("out_trade_no", "QD1"),
            ("result_code", "SUCCESS"),
            ("return_code", "SUCCESS"),
            ("sign_type", "HMAC-SHA256"),
            ("total_fee", "1000"),
            ("fee_type", "CNY"),
            ("transaction_id", "4200000001"),
            ("attach", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sign = WeChatV2::sign(key, &fields);
        assert_eq!(sign, WECHAT_VECTOR);
        fields.push(("sign".into(), sign));
        let xml = format!(
            "<xml>{}</xml>",
            fields.iter().map(|(k, v)| format!("<{k}><![CDATA[{v}]]></{k}>")).collect::<String>()
        );
        let w = WeChatV2::new(key);
        let n = w.verify(&|_| None, xml.as_bytes(), 0).unwrap();
        assert!(
            matches!(&n, Notification::Paid { order_no, amount_fen: 1000, event_id, .. } if order_no == "QD1" && event_id == "4200000001"),
            "{n:?}"
        );
        let tampered = xml.replace("<total_fee><![CDATA[1000]]>", "<total_fee><![CDATA[1]]>");
        assert_eq!(w.verify(&|_| None, tampered.as_bytes(), 0), Err(SignatureError::Mismatch));
        let md5 = xml.replace("HMAC-SHA256", "MD5");
        assert_eq!(w.verify(&|_| None, md5.as_bytes(), 0), Err(SignatureError::Malformed), "MD5 is refused");
    }

    /// printf '%s' 'appid=wx2421b1c4370ec43b&fee_type=CNY&…&transaction_id=4200000001&key=<key>' |
    /// openssl dgst -sha256 -hmac <key>, upper-cased.
    const WECHAT_VECTOR: &str = "A0BD0B48776B668DB6A46919A2DAD3C694AE4D502F964B3A13DB1A3C88870439";
}
