-- The CIRR router: every instance this Orthanc receives is sent to each modality named in
-- ROUTER_DESTINATIONS (ids of its DicomModalities, comma-separated), one C-STORE after the
-- other, and deleted here once every destination has it. An instance that any destination
-- did not take stays here, and the log names it: resend it with
-- POST /modalities/<id>/store once the destination is back.
local destinations = {}
for name in string.gmatch(os.getenv("ROUTER_DESTINATIONS") or "", "[^,%s]+") do
  table.insert(destinations, name)
end
if #destinations == 0 then
  error("router.lua: ROUTER_DESTINATIONS names no modality")
end
print("router.lua: forwarding every received instance to " .. table.concat(destinations, ", "))

function OnStoredInstance(instanceId, tags, metadata, origin)
  -- What Lua itself stores is not received; never route it (no loops).
  if origin["RequestOrigin"] == "Lua" then
    return
  end
  local failed = {}
  for _, modality in ipairs(destinations) do
    -- Synchronous: the answer is nil when the C-STORE failed.
    if RestApiPost("/modalities/" .. modality .. "/store", instanceId) == nil then
      table.insert(failed, modality)
    end
  end
  if #failed == 0 then
    RestApiDelete("/instances/" .. instanceId)
  else
    print("router.lua: kept " .. instanceId .. ": not taken by " .. table.concat(failed, ", "))
  end
end
