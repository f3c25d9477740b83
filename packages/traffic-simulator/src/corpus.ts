/**
 * The words the simulated people use. The texts are chosen to break naive pipelines: several lines,
 * non-Latin scripts (Arabic is right-to-left), emoji with zero-width joiners and skin tones, combining
 * marks, quotes and backslashes (JSON escaping), markup (HTML escaping), SQL-looking text (string
 * building), and one long message (column sizes, Kafka message size). No NUL: Postgres `text` cannot
 * hold it, and LiveChat has not been seen to send it.
 */

export const CUSTOMER_OPENERS: readonly string[] = [
  "Hi, I can't log in to my account",
  "Hello! My order #59414 hasn't arrived 😕",
  'Where can I change my password?',
  'How much is the pro plan?',
  'Dzień dobry, mam problem z fakturą',
  'مرحبا، أحتاج مساعدة في طلبي',
  '你好，我的账户被锁定了',
  'Can you resend the invoice?\nThe last one had the wrong VAT number.\nThanks',
];

export const CUSTOMER_LINES: readonly string[] = [
  'ok',
  'Thanks a lot!',
  "The app crashes when I click <Save> & then 'Undo'",
  'Is there a discount for "non-profits"?',
  'My order number is 59414',
  'I tried that already 🙄',
  'Still not working… here is what I see:\n\n  Error: E_ACCESS_DENIED\n  at login (auth.js:42)',
  'My file is at C:\\Users\\zoë\\Documents\\invoice.pdf',
  "Robert'); DROP TABLE students;--",
  '{"order": 59414, "status": "lost"}',
  'Yes 👍🏽 that worked',
  'The family plan 👨‍👩‍👧‍👦 is what I need',
  'Café ñandú — Ångström (combining: e\u0301)',
  'Dziękuję bardzo, wszystko działa 🎉',
  'شكرا جزيلا',
  'ありがとうございます！',
];

export const AGENT_GREETINGS: readonly string[] = [
  'Hello, thanks for reaching out! How may I help you?',
  'Hi there 👋 How can I help you today?',
];

export const AGENT_LINES: readonly string[] = [
  'Let me check that for you.',
  'Could you share the order number, please?',
  'That should be fixed now, can you try again?',
  "I've just resent it to your email.",
  'Please try these steps:\n1. Log out\n2. Clear the cache\n3. Log in again',
  'The "Pro" plan is $29/month — see https://example.com/pricing?plan=pro&ref=chat',
  'Oczywiście, już sprawdzam.',
  "You're welcome, have a great day!",
  'I have escalated this to our <b>billing</b> team.',
];

export const SUPERVISOR_WHISPERS: readonly string[] = [
  'Offer them the 10% code, they are a long-time customer.',
  'Escalate to billing if the invoice is older than 30 days.',
  'Heads up: this customer wrote yesterday too — check ticket #8812 before answering.',
];

/** Long enough to overflow a careless VARCHAR(255) or log line, well under LiveChat's 16 KB text limit. */
export const LONG_CUSTOMER_MESSAGE = `Here is the full story, sorry it's long:\n${'The checkout page keeps reloading when I pay with my card. '.repeat(60)}\nThanks for reading ❤️`;

export const FIRST_NAMES: readonly string[] = [
  'Zoë',
  'Søren',
  'Olu',
  'Fatima',
  'Łukasz',
  'José',
  'Mei',
  'Aoife',
  'Noah',
  'Priya',
  'Ahmed',
  'Ingrid',
];

export const LAST_NAMES: readonly string[] = [
  'Dubois',
  'Brown',
  'Wang',
  'Okafor',
  'Nowak',
  'García',
  'Müller',
  "O'Brien",
  'Kowalczyk',
  'Haddad',
  'Sato',
];

export const AGENTS: readonly { readonly id: string; readonly name: string }[] = [
  { id: 'anna.k@acme.example', name: 'Anna K.' },
  { id: 'bob@acme.example', name: 'Bob Smith' },
  { id: 'cara@acme.example', name: 'Cara Ł.' },
  { id: 'dev.support@acme.example', name: 'Dev Support' },
  { id: 'emre.yilmaz@acme.example', name: 'Emre Yılmaz' },
];

export const SUPERVISORS: readonly { readonly id: string; readonly name: string }[] = [
  { id: 'sam.supervisor@acme.example', name: 'Sam (Supervisor)' },
  { id: 'jolanta@acme.example', name: 'Jolanta Wiśniewska' },
];

export const GROUP_IDS: readonly number[] = [0, 1, 2, 7];

export const TAGS: readonly string[] = [
  'billing',
  'refund',
  'bug',
  'sales',
  'feedback',
  'spam',
  'vip',
  'follow up',
];

export const PLACES: readonly {
  readonly country: string;
  readonly countryCode: string;
  readonly city: string;
}[] = [
  { country: 'Poland', countryCode: 'PL', city: 'Wrocław' },
  { country: 'Germany', countryCode: 'DE', city: 'München' },
  { country: 'Ireland', countryCode: 'IE', city: 'Dublin' },
  { country: 'Japan', countryCode: 'JP', city: '東京' },
  { country: 'Egypt', countryCode: 'EG', city: 'Cairo' },
];
