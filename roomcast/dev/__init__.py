"""`roomcast dev` and the tools around it: the supervisor that restarts what dies, embedded
servers, the service runner, dev state, tokens and the document generator. Nothing in a
service process imports this package."""
