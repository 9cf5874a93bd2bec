//! The OpenAPI document: every path and schema of the API registered in one place (the API
//! modules register nothing themselves, so none of them depends on another), and the security
//! schemes with the guard's 429 on every operation.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "quantdesk API", description = "Market data, imports and (later) research jobs. Errors are `{\"error\": {\"code\", \"message\"}}`."),
    paths(crate::api::list_instruments, crate::api::get_instrument, crate::api::get_bars, crate::chan::get_chan, crate::chan::get_nest, crate::api::import_bars, crate::api::import_instruments, crate::api::import_preview,
        crate::jobs_api::create_job, crate::jobs_api::list_jobs, crate::jobs_api::get_job, crate::jobs_api::delete_job, crate::jobs_api::cancel_job,
        crate::jobs_api::retry_job, crate::jobs_api::job_events, crate::jobs_api::artifact,
        crate::schedules_api::list, crate::schedules_api::upsert, crate::schedules_api::remove,
        crate::data_api::financials, crate::data_api::sources, crate::data_api::sync, crate::data_api::quality,
        crate::valuation_api::valuation, crate::valuation_api::sensitivity, crate::valuation_api::list, crate::valuation_api::get_one,
        crate::valuation_api::list_scenarios, crate::valuation_api::create_scenario, crate::valuation_api::get_scenario,
        crate::valuation_api::update_scenario, crate::valuation_api::delete_scenario,
        crate::screener_api::screen_stocks, crate::regimes_api::get_regimes,
        crate::watchlists_api::list, crate::watchlists_api::create, crate::watchlists_api::get_one, crate::watchlists_api::rename,
        crate::watchlists_api::remove_list, crate::watchlists_api::add_item, crate::watchlists_api::reorder, crate::watchlists_api::remove_item,
        crate::trademaster_api::healthcheck, crate::trademaster_api::evaluation_parameters, crate::trademaster_api::upload_csv,
        crate::trademaster_api::start_labeling, crate::trademaster_api::mdm_status, crate::trademaster_api::save_labeling,
        crate::trademaster_api::download_csv, crate::trademaster_api::run_dynamics_test, crate::trademaster_api::dynamics_testing_status,
        crate::reports_api::create, crate::reports_api::list, crate::reports_api::get_one, crate::reports_api::delete, crate::reports_api::export_one,
        crate::reports_api::list_prompts, crate::reports_api::save_prompt, crate::reports_api::get_prompt, crate::reports_api::prompt_versions, crate::reports_api::make_default,
        crate::auth::api::signup, crate::auth::api::verify, crate::auth::api::login, crate::auth::api::logout, crate::auth::api::me, crate::auth::api::get_pref, crate::auth::api::put_pref,
        crate::auth::api::change_password, crate::auth::api::request_reset, crate::auth::api::confirm_reset,
        crate::auth::api::list_keys, crate::auth::api::create_key, crate::auth::api::revoke_key,
        crate::auth::api::list_users, crate::auth::api::update_user, crate::auth::api::all_keys, crate::auth::api::audit_log,
        crate::llm_api::list, crate::llm_api::create, crate::llm_api::get_one, crate::llm_api::update, crate::llm_api::remove,
        crate::llm_api::set_order, crate::llm_api::test,
        crate::coins_api::balance, crate::coins_api::ledger, crate::coins_api::check_in, crate::coins_api::adjust,
        crate::payments_api::packages, crate::payments_api::all_packages, crate::payments_api::put_package, crate::payments_api::create_order,
        crate::payments_api::list_orders, crate::payments_api::get_order, crate::payments_api::cancel_order, crate::payments_api::mock_pay, crate::payments_api::stripe_webhook),
    components(schemas(crate::valuation_api::ValuationRequest, crate::valuation_api::StockInfo, crate::valuation_api::ValuationEnvelope,
        crate::valuation_api::SavedDto, quantdesk_app::scenarios::ScenarioInput, quantdesk_app::scenarios::Scenario, quantdesk_app::valuation::HistoryItem, quantdesk_app::valuation::HistoryPage,
        quantdesk_app::valuation::ValuationJobParams, quantdesk_app::valuation::ValuationJobResult, quantdesk_app::valuation::ValuationJobRow,
        quantdesk_app::screener::ScreenerRequest, quantdesk_app::screener::ScreenerPage, quantdesk_app::screener::ScreenedStock,
        quantdesk_app::screener::ControllerType, quantdesk_app::screener::ControllerFilter, quantdesk_app::screener::IndustryFilter,
        quantdesk_app::screener::SortBy, quantdesk_app::screener::SortOrder,
        crate::data_api::FindingDto, crate::data_api::QualityDto, crate::data_api::SourceDto, crate::data_api::SourcesDto, quantdesk_app::sync::SyncRequest,
        quantdesk_app::sync::SyncWhat, quantdesk_app::sync::SyncReport, quantdesk_app::sync::SyncFailure,
        quantdesk_app::financials::StatementView, quantdesk_app::financials::PeriodRow, quantdesk_app::financials::Period,
        crate::api::InstrumentDto, crate::api::InstrumentPage, crate::api::BarDto, crate::api::BarsResponse,
        quantdesk_app::jobs::ImportReport, crate::api::InstrumentImportReport, crate::error::ErrorBody, crate::api::BarUpload,
        crate::api::InstrumentUpload, crate::api::PreviewUpload, crate::api::ImportPreview, crate::jobs_api::CreateJob, crate::jobs_api::Created, crate::jobs_api::JobDto,
        crate::jobs_api::JobDetail, crate::jobs_api::JobPage, crate::jobs_api::Progress, crate::jobs_api::Artifact, crate::jobs_api::LogLine,
        crate::schedules_api::ScheduleDto, crate::schedules_api::ScheduleInput,
        quantdesk_app::jobs::JobKind, quantdesk_app::jobs::BacktestParams, quantdesk_app::jobs::SweepParams,
        quantdesk_app::jobs::DecideParams, quantdesk_app::jobs::ImportParams, quantdesk_app::jobs::ImportFileParams,
        quantdesk_app::jobs::EchoParams,
        crate::auth::api::Message, crate::auth::api::Pref, crate::auth::api::PrefRead, crate::auth::api::Credentials, crate::auth::api::VerifyInput, crate::auth::api::EmailInput,
        crate::auth::api::ResetInput, crate::auth::api::PasswordChange, crate::auth::api::Me, crate::auth::api::KeyDto,
        crate::auth::api::NewKey, crate::auth::api::CreatedKey, crate::auth::api::UserDto, crate::auth::api::UserUpdate,
        crate::auth::api::AuditDto, crate::auth::api::KeyScope,
        crate::chan::ChanAnalysis, crate::chan::ChanNest, crate::chan::NestItem, crate::chan::ChanProfile, crate::chan::Direction, crate::chan::FractalKind, crate::chan::Level,
        crate::chan::Side, crate::chan::MergedBar, crate::chan::Fractal, crate::chan::Stroke, crate::chan::Segment,
        crate::chan::Pivot, crate::chan::Signal,
        quantdesk_app::regimes::RegimeReport, quantdesk_app::regimes::RegimeRow, quantdesk_app::regimes::RegimeSegment,
        quantdesk_app::regimes::RegimeStatistics, quantdesk_app::regimes::RegimeOptions, quantdesk_app::regimes::KeyIndicator,
        quantdesk_app::regimes::Filter, quantdesk_app::regimes::Method,
        quantdesk_app::regimes::RegimesJobParams, quantdesk_app::regimes::DynamicsTestJobParams, quantdesk_app::regimes::DatasetSource,
        quantdesk_app::regimes::RegimeAnswer, quantdesk_app::regimes::IndexLabels,
        crate::trademaster_api::SessionBody, crate::trademaster_api::TmAnswer, crate::trademaster_api::HealthAnswer,
        crate::trademaster_api::EvaluationParameters, crate::trademaster_api::UploadBody, crate::trademaster_api::UploadAnswer,
        crate::trademaster_api::LabelingBody, crate::trademaster_api::MdmStatus, crate::trademaster_api::DownloadAnswer,
        crate::trademaster_api::DynamicsBody, crate::trademaster_api::DynamicsStatus,
        quantdesk_app::watchlists::WatchlistName, quantdesk_app::watchlists::WatchItemInput, quantdesk_app::watchlists::WatchOrder,
        quantdesk_app::watchlists::WatchlistDto, quantdesk_app::watchlists::WatchlistDetail, quantdesk_app::watchlists::WatchItemDto,
        quantdesk_app::watchlists::WatchQuote,
        quantdesk_app::llm::ProviderInput, quantdesk_app::llm::ProviderView, quantdesk_app::llm::ProviderList,
        quantdesk_app::llm::ConfiguredProviderView, quantdesk_app::llm::PresetView, quantdesk_app::llm::TestResult,
        crate::llm_api::ProviderOrder,
        quantdesk_app::coins::Balance, quantdesk_app::coins::LedgerItem, quantdesk_app::coins::LedgerPage, quantdesk_app::coins::CheckIn, crate::coins_api::CoinAdjustment,
        quantdesk_app::payments::PackageDto, quantdesk_app::payments::OrderDto, crate::payments_api::PackageInput, crate::payments_api::NewOrder,
        crate::payments_api::PaymentMethod, crate::payments_api::WebhookAnswer,
        crate::reports_api::CreateReport, crate::reports_api::ReportJob, crate::reports_api::ReportItem, crate::reports_api::ReportPage, crate::reports_api::ReportDetail,
        quantdesk_app::reports::service::ReportView, quantdesk_app::reports::service::PromptVersion, quantdesk_app::reports::Template,
        quantdesk_app::reports::ReportType, quantdesk_app::reports::Lang, quantdesk_app::reports::Warning, quantdesk_app::reports::WarningCode,
        quantdesk_app::reports::service::ReportJobParams, quantdesk_app::reports::service::ReportJobResult, quantdesk_app::reports::service::ReportJobItem)),
    modifiers(&Security),
    security(("api_key" = []), ("session" = [])),
    tags((name = "market", description = "Instruments and bars"), (name = "chan", description = "Chan-theory (缠论) structures and buy/sell points"), (name = "imports", description = "CSV imports"),
        (name = "regimes", description = "Market dynamics: TradeMaster's regime labels (ex-post zero-phase or causal) and per-label statistics"),
        (name = "trademaster", description = "TradeMaster-compatible market dynamics modeling (TradeMaster's deploy/backend_service.py): sessions owned by their caller over regimes and dynamics_test jobs; failures answered in-band with status 200 and error_code 1"),
        (name = "jobs", description = "Background jobs: backtests, sweeps"),
        (name = "reports", description = "Research reports grounded in quantdesk's own figures, and their prompt templates"),
        (name = "valuation", description = "DCF valuation of stored companies, the sensitivity grid, saved valuations and scenarios"),
        (name = "watchlists", description = "Each user's named lists of symbols with their last prices"),
        (name = "auth", description = "Accounts, sessions and API keys"),
        (name = "coins", description = "The caller's coins: balance, ledger, the daily check-in, packages, orders and the payment webhooks"), (name = "admin", description = "Users, keys, the audit log and LLM providers (admins)"))
)]
pub struct ApiDoc;

/// Declares the two ways to authenticate: an API key as a bearer token, or the session cookie.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("qd_<prefix>_<secret>")
                    .description(Some("An API key from Settings or POST /api/v1/keys"))
                    .build(),
            ),
        );
        components
            .add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("qd_session"))));
        // The access guard may answer any operation 429 (rate limits, with Retry-After).
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let too_many = ResponseBuilder::new()
            .description("Too many requests from this address, key or user; Retry-After says when to try again")
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build();
        for item in doc.paths.paths.values_mut() {
            for op in
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                op.responses.responses.entry("429".into()).or_insert_with(|| too_many.clone().into());
            }
        }
    }
}
