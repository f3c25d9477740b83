-- Up Migration
-- services/api `customer_email` filter: the tenant's customers with that e-mail, then their chats (chats_api_customer).
create index if not exists customers_api_email on customers (tenant, lower(email));
