-- Up Migration

-- A console's summary (free capacity, queued chats, the oldest one's wait) changes with the chats as well as with
-- the statuses, and only the statuses rang. Every statement that changes presence's chats now rings channel
-- presence_chats on commit (one notification per transaction, empty payload, like presence_status): the stream hub
-- then reads the summaries of the tenants it has consoles of, at most once a second, instead of reading them every
-- second whatever happened. A statement trigger covers every writer of chats (open_chat, assign_chat, close_chat, the
-- releases, a platform's own code) without changing it. The ring carries no authority: anyone who can connect can
-- NOTIFY, and a forged ring only costs one more read of figures the database computes.

create function presence_private.ring_chats()
returns trigger
language plpgsql volatile
set search_path = ''
as $$
begin
  perform pg_notify('presence_chats', '');
  return null;
end
$$;
comment on function presence_private.ring_chats() is 'Statement trigger of presence_private.chats: rings channel presence_chats (empty payload) so that the stream hub reads the summaries again.';
revoke all on function presence_private.ring_chats() from public;

create trigger chats_ring
  after insert or update or delete on presence_private.chats
  for each statement execute function presence_private.ring_chats();
