import { isJsonObject, stringAt } from './json.js';
import type { JsonObject } from './json.js';
import type { FilledForm, FormField } from './types.js';

/**
 * Form fields from any generation: v3.4+ `answer`/`answers`, v3.2 `value`, v2 pre-chat survey `answer` or
 * `answers: [{label, chosen}]` (every option listed, the chosen ones flagged).
 */
export function formFieldsFrom(fields: readonly JsonObject[]): FormField[] {
  return fields.map((field) => ({
    id: idText(field['id']),
    type: stringAt(field, 'type'),
    label: stringAt(field, 'label'),
    answer: answerText(field['answer'] ?? field['value']),
    answers: chosenAnswers(field['answers']),
  }));
}

export function filledForm(
  formId: string | null,
  formType: string | null,
  fields: readonly JsonObject[],
): FilledForm {
  return { form_id: formId, form_type: formType, fields: formFieldsFrom(fields) };
}

function idText(value: unknown): string | null {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

function answerText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  // group_chooser answers are objects ({group_id, label}); keep them whole rather than guess a label.
  return JSON.stringify(value);
}

function chosenAnswers(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const chosen: string[] = [];
  for (const item of value) {
    if (typeof item === 'string') {
      chosen.push(item);
    } else if (isJsonObject(item)) {
      if (item['chosen'] === false) continue;
      chosen.push(stringAt(item, 'label') ?? stringAt(item, 'value') ?? JSON.stringify(item));
    }
  }
  return chosen;
}
