//! `/api/v1/orders`: taking orders. Each write is one writer job: load the order document, run
//! the domain command, write the one change it yields, update the read model, flush, answer the
//! fresh order view.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Json, OptionalJson, Path, Query};
use crate::service::{AppState, ServiceError};
use crate::views::*;
use axum::extract::State;
use axum::http::StatusCode;
use switchboard_domain::commands::{
    AddCharge, AddLine, AddPayment, ChangeLine, OrderCommand, PriceChange,
};
use switchboard_domain::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Routes of this resource, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_order, list_orders))
        .routes(routes!(get_order))
        .routes(routes!(add_line))
        .routes(routes!(change_line, remove_line))
        .routes(routes!(apply_coupon))
        .routes(routes!(remove_coupon))
        .routes(routes!(add_payment))
        .routes(routes!(void_payment))
        .routes(routes!(add_charge))
        .routes(routes!(place_hold))
        .routes(routes!(clear_hold))
        .routes(routes!(add_note))
        .routes(routes!(submit))
        .routes(routes!(release))
        .routes(routes!(cancel))
        .routes(routes!(suggestions))
        .routes(routes!(history))
}

fn uuid_of(s: &str, what: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(s).map_err(|_| ApiError::not_found(format!("no such {what}")))
}

fn order_id(s: &str) -> ApiResult<OrderId> {
    uuid_of(s, "order").map(OrderId)
}

fn quantity(field: &str, n: i64) -> ApiResult<Quantity> {
    Quantity::new(n).map_err(|e| ApiError::invalid_field(field, e.to_string()))
}

fn opt_code<T>(
    field: &str,
    s: Option<String>,
    parse: impl Fn(String) -> Result<T, CodeError>,
) -> ApiResult<Option<T>> {
    Ok(s.map(|s| parse_code(field, &s, &parse)).transpose()?)
}

type ViewResult = ApiResult<axum::Json<OrderView>>;
type CreatedView = ApiResult<(StatusCode, axum::Json<OrderView>)>;

async fn run(state: &AppState, user: &CurrentUser, id: &str, cmd: OrderCommand) -> ViewResult {
    let id = order_id(id)?;
    Ok(axum::Json(state.order_command(user, id, cmd).await?))
}

async fn run_created(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    cmd: OrderCommand,
) -> CreatedView {
    let view = run(state, user, id, cmd).await?;
    Ok((StatusCode::CREATED, view))
}

/// Creates an order for a customer of the user's call center.
#[utoipa::path(post, path = "/orders", tag = "orders",
    request_body = NewOrderBody,
    responses((status = 201, body = OrderView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_order(
    state: State<AppState>,
    user: CurrentUser,
    Json(body): Json<NewOrderBody>,
) -> CreatedView {
    let view = state.create_order(&user, body).await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// A page of order summaries, newest first.
#[utoipa::path(get, path = "/orders", tag = "orders",
    params(OrderListQuery),
    responses((status = 200, body = OrderList), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_orders(
    state: State<AppState>,
    user: CurrentUser,
    Query(q): Query<OrderListQuery>,
) -> ApiResult<axum::Json<OrderList>> {
    Ok(axum::Json(state.orders(&user, q).await?))
}

/// The order view, computed fresh from the order's document.
#[utoipa::path(get, path = "/orders/{id}", tag = "orders",
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = OrderView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_order(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ViewResult {
    let id = order_id(&id)?;
    Ok(axum::Json(state.order(&user, id).await?))
}

/// Adds a line at the list price, or at an overridden price with a reason code.
#[utoipa::path(post, path = "/orders/{id}/lines", tag = "orders",
    params(("id" = String, Path, description = "order id")),
    request_body = AddLineBody,
    responses((status = 201, body = OrderView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_line(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(b): Json<AddLineBody>,
) -> CreatedView {
    let cmd = AddLine {
        id: LineId(Uuid::now_v7()),
        product_id: parse_code("product_id", &b.product_id, ProductId::parse)?,
        quantity: quantity("quantity", b.quantity)?,
        unit_price: b.unit_price,
        override_reason: opt_code("override_reason", b.override_reason, ReasonCode::parse)?,
    };
    run_created(&state, &user, &id, OrderCommand::AddLine(cmd)).await
}

/// Changes a line's quantity or price (`unit_price: null` goes back to the list price).
#[utoipa::path(patch, path = "/orders/{id}/lines/{line_id}", tag = "orders",
    params(("id" = String, Path, description = "order id"), ("line_id" = String, Path, description = "line id")),
    request_body = PatchLineBody,
    responses((status = 200, body = OrderView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn change_line(
    state: State<AppState>,
    user: CurrentUser,
    Path((id, line_id)): Path<(String, String)>,
    Json(b): Json<PatchLineBody>,
) -> ViewResult {
    let line_id = LineId(uuid_of(&line_id, "line")?);
    let reason = opt_code("override_reason", b.override_reason, ReasonCode::parse)?;
    let price = match (b.unit_price, reason) {
        (None, None) => None,
        (Some(None), _) => Some(PriceChange::Revert),
        (Some(Some(unit_price)), reason) => Some(PriceChange::Set { unit_price, reason }),
        (None, Some(r)) => Some(PriceChange::Reason(r)),
    };
    let quantity = b.quantity.map(|q| quantity("quantity", q)).transpose()?;
    run(
        &state,
        &user,
        &id,
        OrderCommand::ChangeLine(ChangeLine {
            line_id,
            quantity,
            price,
        }),
    )
    .await
}

/// Removes a line.
#[utoipa::path(delete, path = "/orders/{id}/lines/{line_id}", tag = "orders",
    params(("id" = String, Path, description = "order id"), ("line_id" = String, Path, description = "line id")),
    responses((status = 200, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn remove_line(
    state: State<AppState>,
    user: CurrentUser,
    Path((id, line_id)): Path<(String, String)>,
) -> ViewResult {
    let line_id = LineId(uuid_of(&line_id, "line")?);
    run(&state, &user, &id, OrderCommand::RemoveLine(line_id)).await
}

/// Applies a coupon.
#[utoipa::path(post, path = "/orders/{id}/coupons", tag = "orders",
    params(("id" = String, Path, description = "order id")),
    request_body = CouponBody,
    responses((status = 201, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn apply_coupon(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(b): Json<CouponBody>,
) -> CreatedView {
    // A code that cannot exist is an unknown coupon, like any other code not configured.
    let code = CouponCode::parse(b.code.clone()).map_err(|_| ServiceError::Rule {
        kind: ErrorKind::CouponInvalid,
        detail: format!("coupon {} does not exist", b.code),
    })?;
    run_created(&state, &user, &id, OrderCommand::ApplyCoupon(code)).await
}

/// Removes a coupon.
#[utoipa::path(delete, path = "/orders/{id}/coupons/{code}", tag = "orders",
    params(("id" = String, Path, description = "order id"), ("code" = String, Path, description = "coupon code")),
    responses((status = 200, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn remove_coupon(
    state: State<AppState>,
    user: CurrentUser,
    Path((id, code)): Path<(String, String)>,
) -> ViewResult {
    let code =
        CouponCode::parse(code).map_err(|_| ApiError::not_found("no such coupon on this order"))?;
    run(&state, &user, &id, OrderCommand::RemoveCoupon(code)).await
}

/// Records a payment.
#[utoipa::path(post, path = "/orders/{id}/payments", tag = "orders",
    params(("id" = String, Path, description = "order id")),
    request_body = PaymentBody,
    responses((status = 201, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_payment(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(b): Json<PaymentBody>,
) -> CreatedView {
    let cmd = AddPayment {
        id: PaymentId(Uuid::now_v7()),
        method: parse_code("method", &b.method, PaymentMethodId::parse)?,
        amount: b.amount,
        reference: b.reference,
    };
    run_created(&state, &user, &id, OrderCommand::AddPayment(cmd)).await
}

/// Voids a payment.
#[utoipa::path(delete, path = "/orders/{id}/payments/{payment_id}", tag = "orders",
    params(("id" = String, Path, description = "order id"), ("payment_id" = String, Path, description = "payment id")),
    responses((status = 200, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn void_payment(
    state: State<AppState>,
    user: CurrentUser,
    Path((id, payment_id)): Path<(String, String)>,
) -> ViewResult {
    let pid = PaymentId(uuid_of(&payment_id, "payment")?);
    run(&state, &user, &id, OrderCommand::VoidPayment(pid)).await
}

/// Adds a manual charge.
#[utoipa::path(post, path = "/orders/{id}/charges", tag = "orders",
    params(("id" = String, Path, description = "order id")),
    request_body = ChargeBody,
    responses((status = 201, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_charge(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(b): Json<ChargeBody>,
) -> CreatedView {
    let cmd = AddCharge {
        id: ChargeId(Uuid::now_v7()),
        code: parse_code("code", &b.code, ChargeCode::parse)?,
        amount: b.amount,
        reason_code: parse_code("reason_code", &b.reason_code, ReasonCode::parse)?,
    };
    run_created(&state, &user, &id, OrderCommand::AddCharge(cmd)).await
}

/// Places a hold.
#[utoipa::path(post, path = "/orders/{id}/holds", tag = "orders",
    params(("id" = String, Path, description = "order id")),
    request_body = HoldBody,
    responses((status = 201, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn place_hold(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(b): Json<HoldBody>,
) -> CreatedView {
    let code = parse_code("code", &b.code, HoldCode::parse)?;
    let cmd = OrderCommand::PlaceHold {
        id: HoldId(Uuid::now_v7()),
        code,
        reason: b.reason,
    };
    run_created(&state, &user, &id, cmd).await
}

/// Clears a hold.
#[utoipa::path(post, path = "/orders/{id}/holds/{hold_id}/clear", tag = "orders",
    params(("id" = String, Path, description = "order id"), ("hold_id" = String, Path, description = "hold id")),
    request_body = Option<ReasonBody>,
    responses((status = 200, body = OrderView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn clear_hold(
    state: State<AppState>,
    user: CurrentUser,
    Path((id, hold_id)): Path<(String, String)>,
    OptionalJson(b): OptionalJson<ReasonBody>,
) -> ViewResult {
    let hid = HoldId(uuid_of(&hold_id, "hold")?);
    let reason = b.unwrap_or_default().reason;
    run(
        &state,
        &user,
        &id,
        OrderCommand::ClearHold { id: hid, reason },
    )
    .await
}

/// Adds a note.
#[utoipa::path(post, path = "/orders/{id}/notes", tag = "orders",
    params(("id" = String, Path, description = "order id")),
    request_body = NoteBody,
    responses((status = 201, body = OrderView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_note(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(b): Json<NoteBody>,
) -> CreatedView {
    run_created(
        &state,
        &user,
        &id,
        OrderCommand::AddNote {
            id: NoteId(Uuid::now_v7()),
            text: b.text,
        },
    )
    .await
}

/// Submits the order: 422 `payment_required` while payments fall short, 409 `order_on_hold`.
#[utoipa::path(post, path = "/orders/{id}/submit", tag = "orders",
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn submit(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ViewResult {
    run(&state, &user, &id, OrderCommand::Submit).await
}

/// Releases a submitted order to fulfilment: 409 `order_on_hold` or `invalid_transition`.
#[utoipa::path(post, path = "/orders/{id}/release", tag = "orders",
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn release(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ViewResult {
    run(&state, &user, &id, OrderCommand::Release).await
}

/// Cancels the order (after submit: supervisors only).
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "orders",
    params(("id" = String, Path, description = "order id")),
    request_body = Option<ReasonBody>,
    responses((status = 200, body = OrderView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn cancel(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    OptionalJson(b): OptionalJson<ReasonBody>,
) -> ViewResult {
    run(
        &state,
        &user,
        &id,
        OrderCommand::Cancel {
            reason: b.unwrap_or_default().reason,
        },
    )
    .await
}

/// Upsell, cross-sell and scripts for an open order (guided sales).
#[utoipa::path(get, path = "/orders/{id}/suggestions", tag = "orders",
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = SuggestionsView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn suggestions(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<SuggestionsView>> {
    let id = order_id(&id)?;
    Ok(axum::Json(state.suggestions(&user, id).await?))
}

/// The order's changes, oldest first.
#[utoipa::path(get, path = "/orders/{id}/history", tag = "orders",
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = OrderHistory), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn history(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<OrderHistory>> {
    let id = order_id(&id)?;
    Ok(axum::Json(state.order_history(&user, id).await?))
}
