if fenced() then return -1 end
checkpoint()
return 1
