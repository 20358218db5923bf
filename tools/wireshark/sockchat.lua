-- sockchat.lua: a Wireshark dissector for the SockChat protocol, version 1.1.
--
-- docs/PROTOCOL.md is the specification and the field tables in
-- shared/protocol/sc-message.c are authoritative; the FIELDS table below mirrors
-- them one for one.  See tools/wireshark/README.md for how to load it.
--
-- SockChat runs on TCP port 5330 by default.  The dissector registers on
-- that port (changeable under Preferences > Protocols > SockChat) and is
-- offered in "Decode As..." for any other TCP port.  Frames split across
-- TCP segments are reassembled; several frames in one segment are all
-- dissected.  Broken input is reported with expert infos, never by a Lua
-- error.

local sockchat = Proto ("sockchat", "SockChat Protocol")

local MAGIC = 0x5343
local VERSION = 1
local HEADER_SIZE = 16
-- No implementation accepts a larger payload, whatever it is configured to.
local MAX_PAYLOAD_LIMIT = 16 * 1024 * 1024
local DEFAULT_PORT = 5330

local type_names = {
  [0x01] = "HELLO",
  [0x02] = "GET_TIME",
  [0x03] = "GET_NAME",
  [0x04] = "LIST_CLIENTS",
  [0x05] = "SEND_MESSAGE",
  [0x06] = "BROADCAST",
  [0x07] = "SET_NICKNAME",
  [0x08] = "PING",
  [0x10] = "MESSAGE_ACK",
  [0x11] = "PONG",
  [0x12] = "MESSAGE_ACKS",
  [0x40] = "GREETING",
  [0x41] = "MESSAGE",
  [0x42] = "DELIVERY_RECEIPT",
  [0x43] = "CLIENT_JOINED",
  [0x44] = "CLIENT_LEFT",
  [0x45] = "CLIENT_RENAMED",
  [0x46] = "SERVER_SHUTDOWN",
  [0x47] = "PROTOCOL_ERROR",
  [0x48] = "SERVER_PING",
  [0x49] = "DELIVERY_RECEIPTS",
  [0x81] = "HELLO_REPLY",
  [0x82] = "GET_TIME_REPLY",
  [0x83] = "GET_NAME_REPLY",
  [0x84] = "LIST_CLIENTS_REPLY",
  [0x85] = "SEND_MESSAGE_REPLY",
  [0x86] = "BROADCAST_REPLY",
  [0x87] = "SET_NICKNAME_REPLY",
  [0x88] = "PING_REPLY",
}

local status_names = {
  [0] = "OK",
  [1] = "BAD_REQUEST",
  [2] = "VERSION_MISMATCH",
  [3] = "NOT_READY",
  [4] = "NO_SUCH_CLIENT",
  [5] = "TOO_LARGE",
  [6] = "RECIPIENT_SLOW",
  [7] = "RECIPIENT_LEFT",
  [8] = "SERVER_FULL",
  [9] = "SHUTTING_DOWN",
  [10] = "INVALID_NICKNAME",
  [11] = "PROTOCOL_ERROR",
  [12] = "TIMEOUT",
  [13] = "AUTH_FAILED",
  [14] = "INTERNAL",
  [15] = "SERVER_BUSY",
  [16] = "RATE_LIMITED",
  [17] = "NICKNAME_IN_USE",
  [18] = "NICKNAME_REGISTERED",
  [19] = "ENCRYPTION_REQUIRED",
  [20] = "UNREACHABLE",
}

-- The header flag bits of section 2.  Each type defines its own, so one
-- bit has a different name in each type that uses it.
local FLAG_NO_PRESENCE = 0x0001      -- HELLO (section 4.2)
local FLAG_RECEIPT_BATCHES = 0x0002  -- HELLO (section 4.2)
local FLAG_PROTOCOL_1_1 = 0x0001     -- GREETING (section 4.1)
local FLAG_QUIET = 0x0001            -- SEND_MESSAGE (section 4.6)
local FLAG_NO_RECEIPT = 0x0002       -- SEND_MESSAGE and BROADCAST (4.6)
local FLAG_NO_ACK = 0x0001           -- MESSAGE (section 4.7)

local kind_names = {
  request = "Request",
  response = "Response",
  notice = "Client notice",
  indication = "Indication",
}

local yes_no = { [0] = "No", [1] = "Yes" }

local f = {
  -- Header.
  magic = ProtoField.uint16 ("sockchat.magic", "Magic", base.HEX),
  version = ProtoField.uint8 ("sockchat.version", "Version", base.DEC),
  type = ProtoField.uint8 ("sockchat.type", "Type", base.HEX, type_names),
  flags = ProtoField.uint16 ("sockchat.flags", "Flags", base.HEX),
  flag_no_presence = ProtoField.bool ("sockchat.flags.no_presence",
                                      "NO_PRESENCE", 16, nil,
                                      FLAG_NO_PRESENCE,
                                      "The client does not want CLIENT_JOINED, CLIENT_LEFT and CLIENT_RENAMED"),
  flag_receipt_batches = ProtoField.bool ("sockchat.flags.receipt_batches",
                                          "RECEIPT_BATCHES", 16, nil,
                                          FLAG_RECEIPT_BATCHES,
                                          "The client reads DELIVERY_RECEIPTS"),
  flag_protocol_1_1 = ProtoField.bool ("sockchat.flags.protocol_1_1",
                                       "PROTOCOL_1_1", 16, nil,
                                       FLAG_PROTOCOL_1_1,
                                       "The server speaks protocol 1.1: MESSAGE_ACKS, QUIET, NO_RECEIPT, NO_ACK"),
  flag_quiet = ProtoField.bool ("sockchat.flags.quiet", "QUIET", 16, nil,
                                FLAG_QUIET,
                                "No reply when the message is accepted"),
  flag_no_receipt = ProtoField.bool ("sockchat.flags.no_receipt",
                                     "NO_RECEIPT", 16, nil, FLAG_NO_RECEIPT,
                                     "Fire and forget: no acknowledgement, no receipt"),
  flag_no_ack = ProtoField.bool ("sockchat.flags.no_ack", "NO_ACK", 16, nil,
                                 FLAG_NO_ACK,
                                 "Sent with NO_RECEIPT: the client must not acknowledge it"),
  reserved = ProtoField.uint16 ("sockchat.reserved", "Reserved", base.HEX),
  request_id = ProtoField.uint32 ("sockchat.request_id", "Request ID",
                                  base.DEC),
  payload_length = ProtoField.uint32 ("sockchat.payload_length",
                                      "Payload length", base.DEC),
  kind = ProtoField.string ("sockchat.kind", "Kind"),

  -- Payload fields, named as in docs/PROTOCOL.md section 4.
  status = ProtoField.uint16 ("sockchat.status", "Status", base.DEC,
                              status_names),
  reason = ProtoField.string ("sockchat.reason", "Reason", base.UNICODE),
  protocol_version = ProtoField.uint8 ("sockchat.protocol_version",
                                       "Protocol version", base.DEC),
  program = ProtoField.string ("sockchat.program", "Program", base.UNICODE),
  nickname = ProtoField.string ("sockchat.nickname", "Nickname",
                                base.UNICODE),
  password = ProtoField.string ("sockchat.password", "Password",
                                base.UNICODE),
  client_id = ProtoField.uint32 ("sockchat.client_id", "Client ID", base.DEC),
  recipient_id = ProtoField.uint32 ("sockchat.recipient_id", "Recipient ID",
                                    base.DEC),
  after_id = ProtoField.uint32 ("sockchat.after_id", "After ID", base.DEC),
  message_id = ProtoField.uint64 ("sockchat.message_id", "Message ID",
                                  base.DEC),
  token = ProtoField.uint64 ("sockchat.token", "Token", base.DEC),
  text = ProtoField.string ("sockchat.text", "Text", base.UNICODE),
  time_ms = ProtoField.uint64 ("sockchat.time_ms", "Time (ms since epoch)",
                               base.DEC),
  time = ProtoField.absolute_time ("sockchat.time", "Time", base.UTC),
  iso_time = ProtoField.string ("sockchat.iso_time", "ISO time",
                                base.UNICODE),
  timezone = ProtoField.string ("sockchat.timezone", "Time zone",
                                base.UNICODE),
  host_name = ProtoField.string ("sockchat.host_name", "Host name",
                                 base.UNICODE),
  server_name = ProtoField.string ("sockchat.server_name", "Server name",
                                   base.UNICODE),
  max_payload = ProtoField.uint32 ("sockchat.max_payload", "Max payload",
                                   base.DEC),
  max_clients = ProtoField.uint32 ("sockchat.max_clients", "Max clients",
                                   base.DEC),
  heartbeat_s = ProtoField.uint32 ("sockchat.heartbeat_s",
                                   "Heartbeat (seconds)", base.DEC),
  count = ProtoField.uint32 ("sockchat.count", "Total clients", base.DEC),
  more = ProtoField.uint8 ("sockchat.more", "More pages", base.DEC, yes_no),
  entries = ProtoField.uint32 ("sockchat.entries", "Entries in this page",
                               base.DEC),
  recipients = ProtoField.uint32 ("sockchat.recipients", "Recipients",
                                  base.DEC),
  broadcast = ProtoField.uint8 ("sockchat.broadcast", "Broadcast", base.DEC,
                                yes_no),
  -- The id list of MESSAGE_ACKS and DELIVERY_RECEIPTS: a subtree of its
  -- count and one sockchat.message_id per id, so filters on message_id
  -- find batches too.
  message_ids = ProtoField.none ("sockchat.message_ids", "Message IDs"),
  message_ids_count = ProtoField.uint32 ("sockchat.message_ids.count",
                                         "Message ID count", base.DEC),

  -- Client-info, a subtree inside MESSAGE, CLIENT_JOINED and the list.
  client = ProtoField.none ("sockchat.client", "Client"),
  port = ProtoField.uint16 ("sockchat.port", "Port", base.DEC),
  connected_since_ms = ProtoField.uint64 ("sockchat.connected_since_ms",
                                          "Connected since (ms since epoch)",
                                          base.DEC),
  connected_since = ProtoField.absolute_time ("sockchat.connected_since",
                                              "Connected since", base.UTC),
  address = ProtoField.string ("sockchat.address", "Address", base.UNICODE),

  -- Encoding details and analysis.
  string_length = ProtoField.uint16 ("sockchat.string_length",
                                     "String length", base.DEC),
  trailing = ProtoField.bytes ("sockchat.trailing", "Unknown trailing bytes"),
  payload = ProtoField.bytes ("sockchat.payload", "Payload"),
  request_in = ProtoField.framenum ("sockchat.request_in", "Request in frame",
                                    base.NONE, frametype.REQUEST),
  response_time = ProtoField.relative_time ("sockchat.response_time",
                                            "Response time"),
}

local field_list = {}
for _, field in pairs (f) do
  field_list[#field_list + 1] = field
end
sockchat.fields = field_list

local e = {
  bad_magic = ProtoExpert.new ("sockchat.bad_magic.expert",
                               "Bad magic: not a SockChat frame boundary",
                               expert.group.MALFORMED, expert.severity.ERROR),
  bad_version = ProtoExpert.new ("sockchat.bad_version.expert",
                                 "Unsupported header version",
                                 expert.group.PROTOCOL, expert.severity.ERROR),
  unknown_type = ProtoExpert.new ("sockchat.unknown_type.expert",
                                  "Unknown message type",
                                  expert.group.PROTOCOL,
                                  expert.severity.ERROR),
  too_large = ProtoExpert.new ("sockchat.too_large.expert",
                               "Declared payload length over the 16 MiB limit",
                               expert.group.MALFORMED, expert.severity.ERROR),
  bad_request_id = ProtoExpert.new ("sockchat.bad_request_id.expert",
                                    "Request ID not allowed for this kind",
                                    expert.group.PROTOCOL,
                                    expert.severity.ERROR),
  malformed = ProtoExpert.new ("sockchat.malformed.expert",
                               "Malformed payload",
                               expert.group.MALFORMED, expert.severity.ERROR),
  bad_string = ProtoExpert.new ("sockchat.bad_string.expert",
                                "String is not valid UTF-8 or contains NUL",
                                expert.group.MALFORMED, expert.severity.ERROR),
  truncated = ProtoExpert.new ("sockchat.truncated.expert",
                               "Frame truncated (TCP reassembly off or capture cut)",
                               expert.group.MALFORMED, expert.severity.WARN),
  trailing = ProtoExpert.new ("sockchat.trailing.expert",
                              "Bytes after the last known field (ignored)",
                              expert.group.UNDECODED, expert.severity.NOTE),
  status = ProtoExpert.new ("sockchat.status.expert",
                            "Non-OK status",
                            expert.group.RESPONSE_CODE, expert.severity.NOTE),
}
sockchat.experts = {
  e.bad_magic, e.bad_version, e.unknown_type, e.too_large, e.bad_request_id,
  e.malformed, e.bad_string, e.truncated, e.trailing, e.status,
}

sockchat.prefs.port = Pref.uint ("TCP port", DEFAULT_PORT,
                                 "The TCP port SockChat is dissected on")

local tcp_stream_field = Field.new ("tcp.stream")

-- The flag bits each type defines, in bit order: { field, name, mask }.
-- Bits a type does not define are not broken out: senders send 0 and
-- receivers ignore them (section 6).
local FLAG_BITS = {
  [0x01] = { { f.flag_no_presence, "NO_PRESENCE", FLAG_NO_PRESENCE },
             { f.flag_receipt_batches, "RECEIPT_BATCHES",
               FLAG_RECEIPT_BATCHES } },
  [0x05] = { { f.flag_quiet, "QUIET", FLAG_QUIET },
             { f.flag_no_receipt, "NO_RECEIPT", FLAG_NO_RECEIPT } },
  -- BROADCAST ignores QUIET: its reply says how many receipts to expect.
  [0x06] = { { f.flag_no_receipt, "NO_RECEIPT", FLAG_NO_RECEIPT } },
  [0x40] = { { f.flag_protocol_1_1, "PROTOCOL_1_1", FLAG_PROTOCOL_1_1 } },
  [0x41] = { { f.flag_no_ack, "NO_ACK", FLAG_NO_ACK } },
}

-- ------------------------------------------------------------------
-- Message layouts, in wire order, as in shared/protocol/sc-message.c.  Each entry
-- is { encoding, field, key }: key names the value for the Info column.

local client_info = { "client" }

local FIELDS = {
  [0x01] = { { "u8", f.protocol_version, "version" }, { "string", f.program, "program" },
             { "string", f.nickname, "nickname" },
             { "optional_string", f.password, "password" } },
  [0x02] = {},
  [0x03] = {},
  [0x04] = { { "u32", f.after_id, "after_id" } },
  [0x05] = { { "u32", f.recipient_id, "recipient_id" },
             { "string", f.text, "text" } },
  [0x06] = { { "string", f.text, "text" } },
  [0x07] = { { "string", f.nickname, "nickname" },
             { "optional_string", f.password, "password" } },
  [0x08] = { { "u64", f.token, "token" } },
  [0x10] = { { "u64", f.message_id, "message_id" } },
  [0x11] = { { "u64", f.token, "token" } },
  [0x12] = { { "id_list", "message_ids" } },
  [0x40] = { { "u32", f.client_id, "client_id" }, { "u8", f.protocol_version, "version" },
             { "u32", f.max_payload, "max_payload" }, { "u32", f.max_clients, "max_clients" },
             { "u32", f.heartbeat_s, "heartbeat_s" },
             { "string", f.server_name, "server_name" } },
  [0x41] = { { "u64", f.message_id, "message_id" }, { "time", f.time_ms, "time_ms" },
             { "u8", f.broadcast, "broadcast" },
             { "client", "Sender", "sender" }, { "string", f.text, "text" } },
  [0x42] = { { "u64", f.message_id, "message_id" },
             { "u32", f.recipient_id, "recipient_id" },
             { "status", f.status, "status" },
             { "string", f.reason, "reason" } },
  [0x43] = { { "client", "Client", "client" } },
  [0x44] = { { "u32", f.client_id, "client_id" },
             { "status", f.status, "status" },
             { "string", f.reason, "reason" } },
  [0x45] = { { "u32", f.client_id, "client_id" },
             { "string", f.nickname, "nickname" } },
  [0x46] = { { "string", f.reason, "reason" } },
  [0x47] = { { "status", f.status, "status" },
             { "string", f.reason, "reason" } },
  [0x48] = { { "u64", f.token, "token" } },
  [0x49] = { { "u32", f.recipient_id, "recipient_id" },
             { "status", f.status, "status" },
             { "string", f.reason, "reason" },
             { "id_list", "message_ids" } },
  -- Responses: these follow status and reason only when the status is 0.
  [0x81] = { { "u32", f.client_id, "client_id" },
             { "string", f.nickname, "nickname" } },
  [0x82] = { { "time", f.time_ms, "time_ms" }, { "string", f.iso_time, "iso_time" },
             { "string", f.timezone, "timezone" } },
  [0x83] = { { "string", f.host_name, "host_name" } },
  [0x84] = { { "u32", f.count, "count" }, { "u8", f.more, "more" },
             { "client_list", "entries" } },
  [0x85] = { { "u64", f.message_id, "message_id" } },
  [0x86] = { { "u64", f.message_id, "message_id" },
             { "u32", f.recipients, "recipients" } },
  [0x87] = { { "string", f.nickname, "nickname" } },
  [0x88] = { { "u64", f.token, "token" } },
}

local function type_kind (t)
  if t >= 0x01 and t <= 0x0f then return "request" end
  if t >= 0x10 and t <= 0x1f then return "notice" end
  if t >= 0x40 and t <= 0x4f then return "indication" end
  if t >= 0x81 and t <= 0x8f then return "response" end
  return nil
end

-- Strict UTF-8 check (no overlongs, no surrogates, nothing past U+10FFFF)
-- plus the protocol's own rule: no NUL.
local function valid_string (s)
  local i, n = 1, #s
  while i <= n do
    local c = s:byte (i)
    local need, min
    if c == 0 then
      return false
    elseif c < 0x80 then
      need = 0
    elseif c >= 0xc2 and c <= 0xdf then
      need, min = 1, 0x80
    elseif c >= 0xe0 and c <= 0xef then
      need, min = 2, 0x800
    elseif c >= 0xf0 and c <= 0xf4 then
      need, min = 3, 0x10000
    else
      return false
    end
    if need > 0 then
      if i + need > n then
        return false
      end
      local cp = c % (2 ^ (6 - need))
      for k = 1, need do
        local cc = s:byte (i + k)
        if cc < 0x80 or cc > 0xbf then
          return false
        end
        cp = cp * 64 + (cc - 0x80)
      end
      if cp < min or cp > 0x10ffff or (cp >= 0xd800 and cp <= 0xdfff) then
        return false
      end
    end
    i = i + need + 1
  end
  return true
end

local function shorten (s, max)
  if #s <= max then
    return s
  end
  -- Cut on a character boundary so the column stays valid UTF-8.
  local cut = max
  while cut > 0 and s:byte (cut + 1) and s:byte (cut + 1) >= 0x80
        and s:byte (cut + 1) < 0xc0 do
    cut = cut - 1
  end
  return s:sub (1, cut) .. "…"
end

local function ms_to_nstime (ms)
  local secs = (ms / 1000):tonumber ()
  local nsecs = (ms % 1000):tonumber () * 1000000
  return NSTime.new (secs, nsecs)
end

-- ------------------------------------------------------------------
-- A bounds-checked cursor over one payload.  After the first failure
-- every read returns nil, so a malformed payload yields one expert info
-- and a partial tree instead of a Lua error.

local Reader = {}
Reader.__index = Reader

local function new_reader (tvb, start, stop, tree)
  return setmetatable ({ tvb = tvb, pos = start, stop = stop, tree = tree,
                         ok = true }, Reader)
end

function Reader:remaining ()
  return self.stop - self.pos
end

function Reader:fail (tree, what, need)
  if not self.ok then
    return
  end
  self.ok = false
  local left = self:remaining ()
  local msg = string.format ("Malformed: %s needs %d bytes, %d left",
                             what, need, left)
  if left > 0 then
    tree:add_tvb_expert_info (e.malformed, self.tvb (self.pos, left), msg)
  else
    tree:add_proto_expert_info (e.malformed, msg)
  end
end

function Reader:check (tree, what, n)
  if not self.ok then
    return false
  end
  if self.pos + n > self.stop then
    self:fail (tree, what, n)
    return false
  end
  return true
end

-- Reads an unsigned integer field of @size bytes; returns its value
-- (a Lua number, or UInt64 for size 8).
function Reader:uint (tree, field, size, what)
  if not self:check (tree, what, size) then
    return nil
  end
  local range = self.tvb (self.pos, size)
  local item = tree:add (field, range)
  self.pos = self.pos + size
  if size == 8 then
    return range:uint64 (), item
  end
  return range:uint (), item
end

-- A timestamp: u64 milliseconds, shown also as an absolute UTC time.
function Reader:time (tree, field, abs_field, what)
  if not self:check (tree, what, 8) then
    return nil
  end
  local range = self.tvb (self.pos, 8)
  local ms = range:uint64 ()
  local item = tree:add (field, range)
  tree:add (abs_field, range, ms_to_nstime (ms)):set_generated ()
  self.pos = self.pos + 8
  return ms, item
end

function Reader:string (tree, field, what)
  if not self:check (tree, what .. " length", 2) then
    return nil
  end
  local n = self.tvb (self.pos, 2):uint ()
  if self.pos + 2 + n > self.stop then
    self:fail (tree, string.format ("%s (string of %d bytes)", what, n), 2 + n)
    return nil
  end
  local s = ""
  if n > 0 then
    s = self.tvb:raw (self.pos + 2, n)
  end
  local item = tree:add (field, self.tvb (self.pos, 2 + n), s)
  item:add (f.string_length, self.tvb (self.pos, 2))
  if not valid_string (s) then
    item:add_proto_expert_info (e.bad_string)
  end
  self.pos = self.pos + 2 + n
  return s, item
end

function Reader:client (tree, label)
  -- id, port, since and two string counts: the smallest entry.
  if not self:check (tree, label, 18) then
    return nil
  end
  local start = self.pos
  local sub = tree:add (f.client, self.tvb (self.pos, 18))
  local info = {}
  info.id = self:uint (sub, f.client_id, 4, label .. " id")
  info.port = self:uint (sub, f.port, 2, label .. " port")
  self:time (sub, f.connected_since_ms, f.connected_since,
             label .. " connected_since_ms")
  info.nickname = self:string (sub, f.nickname, label .. " nickname")
  info.address = self:string (sub, f.address, label .. " address")
  if self.ok then
    sub:set_len (self.pos - start)
  end
  local name = (info.nickname and info.nickname ~= "") and info.nickname
               or ("client " .. tostring (info.id))
  sub:set_text (string.format ("%s: %s (id %s, %s port %s)", label, name,
                               tostring (info.id), tostring (info.address),
                               tostring (info.port)))
  return info
end

function Reader:client_list (tree)
  local n, item = self:uint (tree, f.entries, 4, "client list count")
  if n == nil then
    return nil
  end
  -- Refuse a count the remaining bytes could never hold, as the
  -- reference decoder does, before looping on it.
  if n > math.floor (self:remaining () / 18) then
    self:fail (tree, string.format ("client list of %d entries", n), n * 18)
    return nil
  end
  local list = {}
  for i = 1, n do
    local info = self:client (tree, string.format ("Client [%d]", i - 1))
    if info == nil then
      break
    end
    list[#list + 1] = info
  end
  return list
end

-- The u32 count and u64 ids of MESSAGE_ACKS and DELIVERY_RECEIPTS, as a
-- subtree.
function Reader:id_list (tree)
  if not self:check (tree, "message_ids count", 4) then
    return nil
  end
  local start = self.pos
  local sub = tree:add (f.message_ids, self.tvb (start, 4))
  local n = self:uint (sub, f.message_ids_count, 4, "message_ids count")
  -- Refuse a count the remaining bytes could never hold, as the
  -- reference decoder does, before looping on it.
  if n > math.floor (self:remaining () / 8) then
    self:fail (sub, string.format ("message_ids list of %d ids", n), n * 8)
    sub:set_text (string.format ("Message IDs: %d claimed, %d bytes left",
                                 n, self:remaining ()))
    return nil
  end
  local ids = {}
  for i = 1, n do
    ids[i] = self:uint (sub, f.message_id, 8, "message_id")
  end
  sub:set_len (self.pos - start)
  sub:set_text (string.format ("Message IDs: %d", n))
  return ids
end

-- Reads @layout into @tree; returns a table of the values named by keys.
local function read_fields (r, tree, layout, values)
  for _, spec in ipairs (layout) do
    local enc, field, key = spec[1], spec[2], spec[3]
    local value
    local what = key or "field"
    if enc == "u8" then
      value = r:uint (tree, field, 1, what)
    elseif enc == "u32" then
      value = r:uint (tree, field, 4, what)
    elseif enc == "u64" then
      value = r:uint (tree, field, 8, what)
    elseif enc == "status" then
      value = r:uint (tree, field, 2, "status")
    elseif enc == "time" then
      value = r:time (tree, f.time_ms, f.time, "time_ms")
    elseif enc == "string" then
      value = r:string (tree, field, what)
    elseif enc == "optional_string" then
      -- The optional trailing password of HELLO and SET_NICKNAME.
      if r.ok and r:remaining () > 0 then
        value = r:string (tree, field, "password")
      end
    elseif enc == "client" then
      value = r:client (tree, field)
      key = spec[3]
    elseif enc == "client_list" then
      value = r:client_list (tree)
      key = spec[2]
    elseif enc == "id_list" then
      value = r:id_list (tree)
      key = spec[2]
    end
    if key ~= nil and value ~= nil then
      values[key] = value
    end
    if not r.ok then
      return
    end
  end
end

-- ------------------------------------------------------------------
-- The Info column summary of one frame.

local function quote (s)
  return '"' .. shorten (s or "", 40) .. '"'
end

local function status_text (v)
  local s = status_names[v.status] or ("status " .. tostring (v.status))
  if v.reason ~= nil and v.reason ~= "" then
    s = s .. " " .. quote (v.reason)
  end
  return s
end

-- "messages 1, 2, 3" for a list of message ids, "message 1" or "no
-- messages"; a long list shows its first few.
local function id_list_text (ids)
  if #ids == 0 then
    return "no messages"
  end
  local shown = {}
  for i = 1, math.min (#ids, 4) do
    shown[i] = tostring (ids[i])
  end
  local s = table.concat (shown, ", ")
  if #ids > 4 then
    s = s .. string.format (", … (%d in all)", #ids)
  end
  return (#ids == 1 and "message " or "messages ") .. s
end

-- Whether the single bit @mask is set in @flags.  Plain arithmetic: the
-- bit32 library is gone from the Lua 5.4 of later Wireshark releases.
local function has_flag (flags, mask)
  return math.floor (flags / mask) % 2 == 1
end

-- "[QUIET, NO_RECEIPT]" for the header flags type @t defines that are set
-- in @flags, or nil when none is.
local function flags_text (t, flags)
  local names = {}
  for _, bit in ipairs (FLAG_BITS[t] or {}) do
    if has_flag (flags, bit[3]) then
      names[#names + 1] = bit[2]
    end
  end
  if #names == 0 then
    return nil
  end
  return "[" .. table.concat (names, ", ") .. "]"
end

local function summarize (t, rid, v)
  local name = type_names[t] or string.format ("UNKNOWN 0x%02x", t)
  local kind = type_kind (t)
  local parts = { name }
  if kind == "request" or kind == "response" then
    parts[#parts + 1] = "#" .. tostring (rid)
  end
  local function add (s)
    parts[#parts + 1] = s
  end

  if kind == "response" and v.status ~= nil then
    add (status_text (v))
    if v.status ~= 0 then
      return table.concat (parts, " ")
    end
  end
  if t == 0x01 then
    add (quote (v.nickname))
    if v.program then add ("(" .. v.program .. ")") end
    if v.password then add ("with password") end
  elseif t == 0x04 then
    add ("after " .. tostring (v.after_id))
  elseif t == 0x05 then
    add ("to " .. tostring (v.recipient_id))
    add (quote (v.text))
  elseif t == 0x06 or t == 0x07 or t == 0x87 then
    add (quote (v.text or v.nickname))
  elseif t == 0x08 or t == 0x11 or t == 0x48 or t == 0x88 then
    add ("token " .. tostring (v.token))
  elseif t == 0x10 or t == 0x85 then
    add ("message " .. tostring (v.message_id))
  elseif t == 0x40 then
    add ("client " .. tostring (v.client_id))
    add (quote (v.server_name))
  elseif t == 0x41 then
    add (tostring (v.message_id))
    if v.sender then add ("from " .. tostring (v.sender.id)) end
    if v.broadcast == 1 then add ("(broadcast)") end
    add (quote (v.text))
  elseif t == 0x42 then
    add ("message " .. tostring (v.message_id))
    add ("to " .. tostring (v.recipient_id))
    add (status_text (v))
  elseif t == 0x12 then
    if v.message_ids then add (id_list_text (v.message_ids)) end
  elseif t == 0x49 then
    if v.message_ids then add (id_list_text (v.message_ids)) end
    add ("to " .. tostring (v.recipient_id))
    add (status_text (v))
  elseif t == 0x43 then
    if v.client then
      add (tostring (v.client.id))
      add (quote (v.client.nickname))
    end
  elseif t == 0x44 then
    add (tostring (v.client_id))
    add (status_text (v))
  elseif t == 0x45 then
    add (tostring (v.client_id))
    add (quote (v.nickname))
  elseif t == 0x46 then
    add (quote (v.reason))
  elseif t == 0x47 then
    add (status_text (v))
  elseif t == 0x81 then
    add ("client " .. tostring (v.client_id))
    add (quote (v.nickname))
  elseif t == 0x82 then
    add (tostring (v.iso_time))
  elseif t == 0x83 then
    add (quote (v.host_name))
  elseif t == 0x84 then
    local n = v.entries and #v.entries or 0
    add (string.format ("%d of %s", n, tostring (v.count)))
    if v.more == 1 then add ("(more)") end
  elseif t == 0x86 then
    add ("message " .. tostring (v.message_id))
    add ("to " .. tostring (v.recipients))
  end
  -- Last, the names of the flags set, for the types that define any.
  local flags = flags_text (t, v.flags)
  if flags then add (flags) end
  return table.concat (parts, " ")
end

-- ------------------------------------------------------------------
-- Request/response matching: the first pass remembers where each request
-- was, per TCP stream and request id, so a response can point back to it.

local requests = {}

function sockchat.init ()
  requests = {}
end

local function track (pinfo, tree, t, rid)
  local kind = type_kind (t)
  if rid == 0 or (kind ~= "request" and kind ~= "response") then
    return
  end
  local stream = tcp_stream_field ()
  if stream == nil then
    return
  end
  local key = tostring (stream.value) .. ":" .. tostring (t % 0x80) .. ":"
              .. tostring (rid)
  if kind == "request" then
    if not pinfo.visited then
      requests[key] = { frame = pinfo.number, time = pinfo.abs_ts }
    end
  else
    local req = requests[key]
    if req ~= nil and req.frame <= pinfo.number then
      tree:add (f.request_in, req.frame):set_generated ()
      local dt = pinfo.abs_ts - req.time
      if dt >= 0 then
        local secs = math.floor (dt)
        local nsecs = math.floor ((dt - secs) * 1e9 + 0.5)
        tree:add (f.response_time, NSTime.new (secs, nsecs)):set_generated ()
      end
    end
  end
end

-- ------------------------------------------------------------------
-- One complete frame at @offset of @tvb, @len bytes long.

local function dissect_frame (tvb, pinfo, root, offset, len)
  local t = tvb (offset + 3, 1):uint ()
  local rid = tvb (offset + 8, 4):uint ()
  local plen = tvb (offset + 12, 4):uint ()
  local name = type_names[t] or string.format ("UNKNOWN 0x%02x", t)
  local tree = root:add (sockchat, tvb (offset, len))
  local kind = type_kind (t)

  local header = tree:add (tvb (offset, HEADER_SIZE), "Header")
  header:add (f.magic, tvb (offset, 2))
  local vitem = header:add (f.version, tvb (offset + 2, 1))
  local titem = header:add (f.type, tvb (offset + 3, 1))
  local flags = tvb (offset + 4, 2):uint ()
  local fitem = header:add (f.flags, tvb (offset + 4, 2))
  for _, bit in ipairs (FLAG_BITS[t] or {}) do
    fitem:add (bit[1], tvb (offset + 4, 2))
  end
  header:add (f.reserved, tvb (offset + 6, 2))
  local ritem = header:add (f.request_id, tvb (offset + 8, 4))
  header:add (f.payload_length, tvb (offset + 12, 4))
  if kind then
    header:add (f.kind, tvb (offset + 3, 1), kind_names[kind])
          :set_generated ()
  end

  if tvb (offset + 2, 1):uint () ~= VERSION then
    vitem:add_proto_expert_info (e.bad_version)
  end
  if FIELDS[t] == nil then
    titem:add_proto_expert_info (e.unknown_type,
                                 string.format ("Unknown message type 0x%02x",
                                                t))
  end
  local wants_id = kind == "request" or kind == "response"
  if kind ~= nil and wants_id ~= (rid ~= 0) then
    ritem:add_proto_expert_info (e.bad_request_id,
                                 string.format ("%s must carry %s request id",
                                                name, wants_id and "a non-zero"
                                                or "a zero"))
  end

  local start = offset + HEADER_SIZE
  local stop = offset + len
  local values = { flags = flags }
  local r = nil
  -- @len is short of 16 + plen only when reassembly is off.
  if len < HEADER_SIZE + plen then
    tree:add_proto_expert_info (e.truncated,
                                string.format ("Frame truncated: %d of %d payload bytes",
                                               len - HEADER_SIZE, plen))
  end

  if FIELDS[t] == nil then
    if stop > start then
      tree:add (f.payload, tvb (start, stop - start))
    end
  else
    local payload = tree
    if stop > start then
      payload = tree:add (tvb (start, stop - start), "Payload")
    end
    r = new_reader (tvb, start, stop, tree)
    if kind == "response" then
      local status, sitem = r:uint (payload, f.status, 2, "status")
      values.status = status
      values.reason = r:string (payload, f.reason, "reason")
      if status ~= nil and status ~= 0 then
        sitem:add_proto_expert_info (e.status,
                                     string.format ("%s: %s", name,
                                                    status_names[status]
                                                    or tostring (status)))
      end
      if r.ok and status == 0 then
        read_fields (r, payload, FIELDS[t], values)
      end
    else
      read_fields (r, payload, FIELDS[t], values)
    end
    if r.ok and r:remaining () > 0 then
      local item = payload:add (f.trailing, tvb (r.pos, r:remaining ()))
      item:add_proto_expert_info (e.trailing,
                                  string.format ("%d bytes after the last known field (ignored, PROTOCOL.md section 6)",
                                                 r:remaining ()))
    end
  end

  track (pinfo, tree, t, rid)
  local summary = summarize (t, rid, values)
  if len < HEADER_SIZE + plen then
    summary = summary .. " [Truncated]"
  elseif r ~= nil and not r.ok then
    summary = summary .. " [Malformed]"
  end
  tree:append_text (", " .. summary)
  return summary
end

-- Puts @text into the Info column: the first frame dissected in this
-- packet replaces TCP's text, later ones are appended.
local function add_info (pinfo, text)
  if tostring (pinfo.cols.protocol) == "SockChat" then
    pinfo.cols.info:append (", " .. text)
  else
    pinfo.cols.protocol = "SockChat"
    pinfo.cols.info:set (text)
  end
end

function sockchat.dissector (tvb, pinfo, root)
  local total = tvb:len ()
  local offset = 0

  while offset < total do
    local left = total - offset
    -- The header alone tells how long the frame is.
    if left < HEADER_SIZE then
      if pinfo.can_desegment > 0 then
        pinfo.desegment_offset = offset
        pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
        return total
      end
      local tree = root:add (sockchat, tvb (offset, left))
      tree:add_proto_expert_info (e.truncated,
                                  string.format ("Frame truncated: %d of 16 header bytes",
                                                 left))
      add_info (pinfo, "[truncated header]")
      return total
    end

    if tvb (offset, 2):uint () ~= MAGIC then
      -- Nothing after a bad magic can be trusted: the stream has lost its
      -- frame boundaries (or the capture started mid-stream).
      local tree = root:add (sockchat, tvb (offset, left))
      tree:add (f.magic, tvb (offset, 2))
      tree:add_proto_expert_info (e.bad_magic)
      tree:append_text (", bad magic")
      tree:add (f.payload, tvb (offset, left))
      add_info (pinfo, "[bad magic, not at a frame boundary]")
      return total
    end

    local plen = tvb (offset + 12, 4):uint ()
    if plen > MAX_PAYLOAD_LIMIT then
      local tree = root:add (sockchat, tvb (offset, left))
      tree:add (f.payload_length, tvb (offset + 12, 4))
      tree:add_proto_expert_info (e.too_large,
                                  string.format ("Declared payload of %d bytes exceeds %d",
                                                 plen, MAX_PAYLOAD_LIMIT))
      add_info (pinfo, "[payload length over limit]")
      return total
    end

    local len = HEADER_SIZE + plen
    if len > left then
      if pinfo.can_desegment > 0 then
        pinfo.desegment_offset = offset
        pinfo.desegment_len = len - left
        return total
      end
      len = left
    end

    add_info (pinfo, dissect_frame (tvb, pinfo, root, offset, len))
    offset = offset + len
  end
  return total
end

local registered_port = nil

local function register_port (port)
  local tcp_table = DissectorTable.get ("tcp.port")
  if registered_port ~= nil then
    tcp_table:remove (registered_port, sockchat)
  end
  if port ~= 0 then
    tcp_table:add (port, sockchat)
  end
  registered_port = port
end

function sockchat.prefs_changed ()
  if sockchat.prefs.port ~= registered_port then
    register_port (sockchat.prefs.port)
  end
end

register_port (DEFAULT_PORT)
-- Listed under "Decode As..." for any TCP port, not only 5330.
DissectorTable.get ("tcp.port"):add_for_decode_as (sockchat)

-- The TLS listener (docs/PROTOCOL.md 5.10): TCP port 5331 is TLS, and
-- what TLS decrypts there (given the session keys, see section 9) is
-- SockChat.  Other ports: Decode As TLS, then the TLS port table.
local TLS_PORT = 5331
local tls_dissector = Dissector.get ("tls")
if tls_dissector ~= nil then
  DissectorTable.get ("tcp.port"):add (TLS_PORT, tls_dissector)
  DissectorTable.get ("tls.port"):add (TLS_PORT, sockchat)
end
