# ruff: noqa: E501  (verbatim prompt text, one source line per prompt line)
"""ACEBench's English policy prompts (normal, preference, special), for sampling candidates.

Prompt texts as ACEBench states them (``model_inference/prompt_en.py`` at e6db74b, MIT licence,
see ``data/NOTICE``): a policy sampled with them answers in ACEBench's Python-call format, so its
accuracy is comparable with ACEBench's leaderboard. ``{function}`` is filled with the Python
``str()`` of the function-doc list, as ACEBench's inference code does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from harness_tasks.acebench.reader import AceItem

NORMAL_SYSTEM_PROMPT = (
    'You are an AI assistant with the role name "assistant." Based on the provided API specifications and conversation history from steps 1 to t, generate the API requests that the assistant should call in step t+1. The API requests should be output in the format [ApiName(key1=\'value1\', key2=\'value2\', ...)], replacing ApiName with the actual API name, key1, key2, etc., with the actual parameter names, and value1, value2, etc., with the actual parameter values. The output should start with a square bracket "[" and end with a square bracket "]".\n'
    "If there are multiple API requests, separate them with commas, for example: [ApiName(key1='value1', key2='value2', ...), ApiName(key1='value1', key2='value2', ...), ...]. Do not include any other explanations, prompts, or API call results in the output.\n"
    "If the API parameter description does not specify otherwise, the parameter is optional (parameters mentioned in the user input need to be included in the output; if not mentioned, they do not need to be included).\n"
    "If the API parameter description does not specify the required format for the value, use the user's original text for the parameter value.\n"
    "If the API requires no parameters, output the API request directly in the format [ApiName()], and do not invent any nonexistent parameter names.\n"
    "\n"
    "{time}\n"
    "\n"
    "Role Descriptions:\n"
    "user: User\n"
    "assistant: The AI assistant role that makes API requests\n"
    "tool: Provides the results returned from tool calls\n"
    "\n"
    "API Specifications:\n"
    "{function}"
)
PREFERENCE_SYSTEM_PROMPT = (
    "You are an AI assistant, and your role is called assistant. Based on the given API description, dialogue history 1..t, and character profile, generate the API requests that the assistant should call in step t+1. The API requests should be output in the format [ApiName(key1='value1', key2='value2', ...)], where ApiName is replaced with the actual API name, and key1, key2, etc., are replaced with the actual parameter names, and value1, value2 are replaced with the actual parameter values. The output should start with a \"[\" and end with a \"]\".\n"
    "If there are multiple API requests, they should be separated by commas, e.g., [ApiName(key1='value1', key2='value2', ...), ApiName(key1='value1', key2='value2', ...), ...]. Do not output any other explanations, hints, or results of the API calls in the output.\n"
    "If the API parameter description does not specify special instructions, the parameter is optional (parameters mentioned in the user input or character profile should be included in the output, and if not mentioned, they should not be included).\n"
    "If the API parameter description does not specify the format for the parameter value, the parameter value should be taken from the user's original text or character profile.\n"
    "If the API requires no parameters, the API request should be output as [ApiName()], with no fabricated parameter names.\n"
    "\n"
    "Character Profile:\n"
    "{profile}\n"
    "\n"
    "Role Description:\n"
    "user: User\n"
    "assistant: AI assistant performing API calls\n"
    "tool: Provides the results of tool calls\n"
    "\n"
    "API Description:\n"
    "{function}"
)
SPECIAL_SYSTEM_PROMPT = (
    'You are an AI assistant with the role name "assistant". Based on the provided API specifications and conversation history from steps 1 to t, generate the API requests that the assistant should call in step t+1. Below are two specific scenarios:\n'
    "1. When the information provided by the user is clear and unambiguous, and the problem can be resolved using the list of candidate functions:\n"
    "   - If the API parameter description does not specify the required format for the value, use the user's original text for the parameter value.\n"
    "   - When multiple tools in the candidate list can satisfy the user's needs, output all API requests.\n"
    "   - API requests should be output in the format [ApiName(key1='value1', key2='value2', ...), ApiName(key1='value1', key2='value2', ...), ...], replacing ApiName with the actual API name, key1, key2, etc., with the actual parameter names, and value1, value2, etc., with the actual parameter values. The output should start with a square bracket \"[\" and end with a square bracket \"]\". At this time, the output must not contain any other content.\n"
    "\n"
    "2. When the information provided by the user is unclear, incomplete, or incorrect, or the user's question exceeds the capabilities of the provided functions, you need to clearly point out these issues. The following is your strategy:\n"
    "   (1) If the user's instructions include the key details required to call the API, but the type or form of the parameter values does not match the API's definitions, ask in-depth questions to clarify and correct the details. The output format should be: [\"There is incorrect value (value) for the parameters (key) in the conversation history.\"]\n"
    '   (2) If the user\'s instructions lack the key details required by the API, ask questions to obtain the necessary information. The output format should be: ["Missing necessary parameters (key1, key2, ...) for the api (ApiName)"], replacing key1, key2 with the names of the missing parameters and ApiName with the actual API name.\n'
    '   (3) If the user\'s request exceeds the current capabilities of your APIs, inform them that you cannot fulfill the request. The output format should be: ["Due to the limitations of the function, I cannot solve this problem."]\n'
    "   Note: The above steps have a priority order. You need to first determine whether scenario (1) applies. If it does, output according to the requirements in (1). Pay attention to distinguishing between scenarios (1) and (2).\n"
    "\n"
    "{time}\n"
    "\n"
    "Role Descriptions:\n"
    "user: User\n"
    "assistant: The AI assistant role that makes API requests\n"
    "\n"
    "API Specifications:\n"
    "{function}"
)


def policy_system_prompt(item: AceItem) -> str:
    """The system prompt ACEBench gives a policy for this item's category."""
    functions = str(list(item.functions))
    if item.category.startswith("special"):
        return SPECIAL_SYSTEM_PROMPT.format(time=item.time, function=functions)
    if item.category == "normal_preference":
        return PREFERENCE_SYSTEM_PROMPT.format(profile=item.profile, function=functions)
    return NORMAL_SYSTEM_PROMPT.format(time=item.time, function=functions)
