-- The CIRR router: every instance this Orthanc receives is sent to each modality named in
-- ROUTER_DESTINATIONS (ids of its DicomModalities, comma-separated), in order, then deleted
-- here. Orthanc runs these commands as one job: when a send fails, the job stops, the
-- instance stays, and the failed job is listed under /jobs for a retry.
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
  local sent = instanceId
  for _, modality in ipairs(destinations) do
    sent = SendToModality(sent, modality)
  end
  Delete(sent)
end
