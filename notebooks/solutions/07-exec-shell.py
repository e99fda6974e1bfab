# Challenge 07-exec-shell: one solution. The shell expands $PORT, then `exec`
# replaces the shell by uvicorn, which becomes PID 1 and hears SIGTERM itself.
FAST_SHELL = f"""FROM {EXEC}
ENV PORT=8000
CMD exec uvicorn serve:app --host 0.0.0.0 --port $PORT
"""
