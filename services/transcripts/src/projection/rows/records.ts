import { parseJson, type RowBuilders } from './types.js';

/** Records of a tenant that belong to no chat: tickets and canned responses. */
export const recordRows: RowBuilders<'ticket_created' | 'canned_response_changed'> = {
  ticket_created: (event, into, at) => {
    const body = event.body.ticket_created;
    if (body.ticket_id === null) return;
    into.tickets.push({
      tenant: event.tenant,
      ticket_id: body.ticket_id,
      status: body.status,
      subject: body.subject,
      requester_name: body.requester_name,
      requester_email: body.requester_email,
      assignee_id: body.assignee_id,
      tags: [...body.tags],
      group_ids: [...body.group_ids],
      source_chat_id: body.source_chat_id,
      body: parseJson(body.ticket_json),
      created_us: at,
    });
  },
  canned_response_changed: (event, into, at) => {
    const body = event.body.canned_response_changed;
    if (body.canned_response_id === null) return;
    into.cannedResponses.push({
      tenant: event.tenant,
      canned_response_id: body.canned_response_id,
      group_id: body.group_id,
      text: body.text,
      tags: [...body.tags],
      updated_us: at,
    });
  },
};
