// The GraphQL documents the tests send, written once.

export const USER_ERRORS = 'userErrors { field message code }';

export const CREATE_PRODUCER = `mutation ($input: CreateProducerInput!) {
  createProducer(input: $input) { producer { id name } ${USER_ERRORS} } }`;

export const CREATE_HUB = `mutation ($input: CreateHubInput!) {
  createHub(input: $input) { hub { id name } ${USER_ERRORS} } }`;

export const CREATE_PRODUCT = `mutation ($input: CreateProductInput!) {
  createProduct(input: $input) { product { id name sku unit producer { id } } ${USER_ERRORS} } }`;

export const ADJUST_STOCK = `mutation ($input: AdjustStockInput!) {
  adjustStock(input: $input) { product { id stock { onHand held committed available } } ${USER_ERRORS} } }`;

export const CREATE_SALES_SESSION = `mutation ($input: CreateSalesSessionInput!) {
  createSalesSession(input: $input) {
    salesSession { id opensAt closesAt timeZone status hub { id } offers { id product { id } price { amount currency } available } }
    ${USER_ERRORS} } }`;

export const CLOSE_SALES_SESSION = `mutation ($input: CloseSalesSessionInput!) {
  closeSalesSession(input: $input) { salesSession { id status } ${USER_ERRORS} } }`;

const CUSTOMER_ORDER = 'id status customerRef holdExpiresAt salesSession { id } lines { quantity offer { id } product { id } }';

export const CHECKOUT = `mutation ($input: CheckoutInput!) {
  checkout(input: $input) { customerOrder { ${CUSTOMER_ORDER} } ${USER_ERRORS} } }`;

export const CONFIRM_PAYMENT = `mutation ($input: CustomerOrderRefInput!) {
  confirmPayment(input: $input) { customerOrder { ${CUSTOMER_ORDER} } ${USER_ERRORS} } }`;

export const TRANSFER_STOCK = 'mutation ($input: TransferStockInput!) { transferStock(input: $input) { userErrors { field message code } } }';

export const EXTEND_HOLD = `mutation ($input: CustomerOrderRefInput!) {
  extendHold(input: $input) { customerOrder { id status holdExpiresAt } userErrors { field message code } } }`;

export const FAIL_PAYMENT = `mutation ($input: CustomerOrderRefInput!) {
  failPayment(input: $input) { customerOrder { ${CUSTOMER_ORDER} } ${USER_ERRORS} } }`;

export const CANCEL_CUSTOMER_ORDER = `mutation ($input: CustomerOrderRefInput!) {
  cancelCustomerOrder(input: $input) { customerOrder { ${CUSTOMER_ORDER} } ${USER_ERRORS} } }`;

export const CUSTOMER_ORDER_QUERY = `query ($id: ID!) { customerOrder(id: $id) { ${CUSTOMER_ORDER} } }`;

export const PRODUCT_STOCK = `query ($id: ID!) { product(id: $id) { id stock { onHand held committed available } } }`;

export const SESSION_QUERY = `query ($id: ID!) {
  salesSession(id: $id) {
    id status opensAt closesAt timeZone
    offers { id available product { id } }
    producerOrders { id orderState fulfilmentState producer { id } hub { id } lines { product { id } quantity } }
  } }`;

export const PRODUCER_ORDERS = `query ($producerId: ID, $salesSessionId: ID, $orderState: OrderState) {
  producerOrders(producerId: $producerId, salesSessionId: $salesSessionId, orderState: $orderState) {
    id orderState fulfilmentState producer { id } hub { id } salesSession { id } lines { product { id } quantity }
  } }`;
