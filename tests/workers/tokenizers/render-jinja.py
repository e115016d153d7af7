#!/usr/bin/python3
"""Reference renders for t2's chat-template test: renders each (template file, conversation) with
Jinja2 the way HF transformers' apply_chat_template does (sandboxed, trim_blocks, lstrip_blocks,
raise_exception). Input JSON on stdin: {"cases": [{"template": path or "CODE_PROMPT", "config_key":
bool, "messages": [...], "add_generation_prompt": bool, "bos_token": str, "eos_token": str}]}.
Output: a JSON list of rendered strings (or {"error": msg})."""
import json
import sys

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# The reference's CODE_PROMPT (METHOD.md §5), with the same whitespace removal it applies.
CODE_PROMPT = r"""
{% if messages[0]['role'] == 'system' %}
    {% set loop_messages = messages[1:] %}
    {% set system_message = messages[0]['content'].strip() + '\n\n' %}
{% else %}
    {% set loop_messages = messages %}
    {% set system_message = '' %}
{% endif %}

{{ system_message }}
{% for message in loop_messages %}
    {% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{ raise_exception(
            'Conversation roles must alternate user/assistant/user/assistant/...')}}
    {% endif %}

    {% if message['role'] == 'user' %}
        {{ '@@ Instruction:\n' + message['content'].strip() + '\n\n' }}
    {% elif message['role'] == 'assistant' %}
        {{ '@@ Response:\n' + message['content'].strip() }}
    {% endif %}

    {% if loop.last and message['role'] == 'user' and add_generation_prompt %}
        {{ '@@ Response:' }}
    {% endif %}
{% endfor %}
""".replace("    ", "").replace("\n", "")


def raise_exception(msg):
    raise TemplateError(msg)


def main():
    req = json.load(sys.stdin)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    out = []
    for c in req["cases"]:
        if c["template"] == "CODE_PROMPT":
            src = CODE_PROMPT
        else:
            with open(c["template"], encoding="utf-8") as f:
                src = f.read()
            if c.get("config_key"):
                src = json.loads(src)["chat_template"]
        try:
            out.append(env.from_string(src).render(
                messages=c["messages"], add_generation_prompt=c["add_generation_prompt"],
                bos_token=c.get("bos_token", ""), eos_token=c.get("eos_token", "")))
        except TemplateError as e:
            out.append({"error": str(e)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
