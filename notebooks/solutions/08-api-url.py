# Challenge 08-api-url: one solution. `compose port` asks the engine which host port it chose
# for the first replica's 8000; the host address is the 127.0.0.1 the file asked for.
API_URL = compose.published(stack, "api", 8000)
