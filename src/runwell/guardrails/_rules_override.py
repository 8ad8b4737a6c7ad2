"""Injection rules: attempts to replace the model's instructions or to speak with the system's voice.

Telling the model to ignore, forget or drop its instructions; announcing new ones or declaring
the old ones void; claiming the authority of an administrator or developer; and forging the
markup of a conversation (role tags, chat-template tokens, "### SYSTEM" headers, fake turns).
"""

from __future__ import annotations

from runwell.guardrails._lexicon import (
    NOT_DESCRIBING,
    NOT_MODELS,
    NOT_OTHERS,
    NOUN_WORDS,
    RULE_NOUN,
    SCOPE,
    VERB_IGNORE,
    Rule,
    rule,
)

__all__ = ["RULES"]

RULES: tuple[Rule, ...] = (
    rule(
        "ignore-previous-instructions",
        0.9,
        rf"\b(?={VERB_IGNORE}){NOT_DESCRIBING}{VERB_IGNORE} (?:(?:the|of|that|this|and|or) ){{0,3}}"
        rf"{SCOPE},?"
        rf"(?: (?:{SCOPE}|the|of|that|this|and|or),?){{0,3}} {RULE_NOUN}\b{NOT_OTHERS}",
        words=(NOUN_WORDS,),
    ),
    rule(
        "ignore-the-instructions",
        0.6,
        rf"\b(?={VERB_IGNORE}){NOT_DESCRIBING}{VERB_IGNORE} (?:(?:the|these|those|such) (?:[a-z-]+ )?)?"
        rf"{RULE_NOUN}\b"
        rf"{NOT_MODELS}",
        words=(NOUN_WORDS,),
    ),
    rule(
        "forget-the-context",
        0.35,
        rf"\b(?=forget|ignore|disregard|clear|wipe|erase|drop|reset){NOT_DESCRIBING}(?:forget|ignore|disregard"
        r"|clear|wipe|erase|drop|reset) (?:all |any |the |your )"
        r"{1,2}(?:previous |prior |earlier |existing |above )?(?:context|conversation|memory|history|chat)\b",
        words=("context conversation memory history chat",),
    ),
    rule(
        "ignore-everything-before",
        0.8,
        rf"\b{VERB_IGNORE} (?:all (?:of )?)?(?:everything|anything|all|whatever|what) (?:you(?:'ve| have)? "
        r"(?:been |were )?(?:told|taught|given|instructed)|(?:that )?(?:was said|came|(?:you )?(?:were|have"
        r" been) told) (?:before|above|earlier|previously|so far))",
        words=("everything anything all whatever what", "told taught given instructed said came"),
    ),
    rule(
        "ignore-the-above",
        0.45,
        rf"\b{VERB_IGNORE} (?:all (?:of )?)?(?:the above|everything above)\b",
        words=("above",),
    ),
    rule(
        "drop-the-usual-task",
        0.7,
        r"\b(?:ignore|forget|drop|abandon|pause|stop|suspend|leave|set aside|skip|quit|halt) (?:the |your"
        r" )(?:usual|current|original|assigned|normal|regular|actual|real|main|primary|initial|existing) "
        r"(?:work|task|job|role|duties|assignment|purpose|function|instructions|persona)\b",
        words=("usual current original assigned normal regular actual real main primary initial existing",),
    ),
    rule(
        "instructions-revoked",
        0.85,
        r"\b(?:(?:earlier|previous|prior|original|above|old|initial|existing|current|default|your|the) "
        r"(?:system )?(?:prompt|instructions?|rules?|directives?|guidelines|programming|configuration)"
        r"(?: above| you were given| given)? (?:is|are|has been|have been|was|were) "
        r"|(?:previous|prior|earlier|original|all|old|your) (?:system )?(?:instructions|rules|prompt"
        r"|directives"
        r"|guidelines|restrictions) )(?:now |hereby )?(?:revoked|void|voided|cancell?ed"
        r"|overridden|obsolete|null|deprecated|suspended|lifted|replaced|superseded|rescinded|disabled"
        r"|deactivated|removed|invalid|expired|withdrawn|no longer (?:valid|in effect|active|apply"
        r"|applicable|in force))\b",
        words=(
            "revoked void voided cancelled canceled overridden obsolete null deprecated suspended lifted "
            "replaced superseded rescinded disabled deactivated removed invalid expired withdrawn longer",
        ),
    ),
    rule(
        "new-instructions",
        0.7,
        r"\byour (?:new|real|actual|true|updated|revised|only|sole|next) (?:instructions?|task|tasks"
        r"|directive|rules?|orders?|assignment|objective|priority) (?:is|are|will be|:|now)",
        words=("your", "new real actual true updated revised only sole next"),
    ),
    rule(
        "new-role",
        0.45,
        r"\byour (?:new|real|actual|true|updated) (?:role|job|mission|goal|purpose|persona|function) (?:is"
        r"|will be|:|now)",
        words=("your", "new real actual true updated"),
    ),
    rule(
        "new-rule-announced",
        0.45,
        r"\bnew (?:system )?(?:instructions?|rules?|directives?|task|orders?|prompt) ?[:,-]? ?(?:effective"
        r"|from now|starting now|as of now|follow|apply|overrides?|supersedes?|takes? precedence|replaces?)",
        words=("new",),
    ),
    rule(
        "new-task-colon",
        0.45,
        r"\b(?:new|next|real|actual) (?:task|instructions?|objective) ?: ?[a-z]",
        words=("task instruction instructions objective",),
        marks=(":",),
    ),
    rule(
        "updated-prompt-follows",
        0.5,
        r"\b(?:updated|revised|corrected|real|actual|true|new) (?:system )?(?:prompt|system message"
        r"|instructions) (?:follows|below|is as follows|are as follows)",
        words=("follows below",),
    ),
    rule(
        "from-now-on",
        0.3,
        r"\b(?:from now on|henceforth|from this point (?:on|forward)|for the rest of (?:this|the) "
        r"(?:conversation|chat|session)),? (?:you|reply|respond|answer|always|only|never|act|ignore|do not"
        r"|don't)\b",
        words=("now henceforth point rest",),
    ),
    rule(
        "override-command",
        0.45,
        r"\b(?:system|admin|administrator|developer|root|sudo|master) override\b",
        words=("override",),
    ),
    rule(
        "override-engaged",
        0.75,
        r"\b(?:system|admin|administrator|developer|root|sudo|master) override ?(?::|code|mode|accepted"
        r"|activated|enabled|engaged|granted|in effect|initiated|confirmed)|\boverride (?:code|mode) "
        r"(?:accepted|activated|enabled|engaged|granted|confirmed)\b",
        words=("override",),
    ),
    rule(
        "authority-says",
        0.6,
        r"\b(?:the |your )?(?:admin|administrator|developer|system|operator|owner|creator) (?:says|orders"
        r"|commands|instructs(?: you)?) ?:",
        words=("admin administrator developer system operator owner creator",),
    ),
    rule(
        "authority-message",
        0.45,
        r"\b(?:priority|urgent|emergency|official|important|critical) (?:message|notice|instruction"
        r"|directive|order) from (?:the |your )?(?:admin|administrator|developers?|dev team|creators?"
        r"|operators?|system|openai|anthropic|security team)\b",
        words=("from", "priority urgent emergency official important critical"),
    ),
    rule(
        "claims-to-be-developer",
        0.5,
        r"\bi(?: am|'m) (?:your|the) (?:developer|creator|admin|administrator|owner|operator|programmer"
        r"|maker|designer|trainer)(?! of (?:a|an|my|our|the (?!assistant|bot|ai|model|system)))\b|\bi "
        r"(?:wrote|created|designed|programmed|built|made|trained) (?:you\b|your (?:instructions|prompt"
        r"|system prompt|rules|guidelines))|\bi(?: am|'m) from (?:openai|anthropic|the (?:dev|development"
        r"|security|safety|trust and safety|red) team)\b",
        words=(
            "i",
            "developer creator admin administrator owner operator programmer maker designer trainer wrote "
            "created designed programmed built made trained openai anthropic team",
        ),
    ),
    rule(
        "reply-must-start",
        0.5,
        r"\b(?:your|the assistant's|the ai's|the model's|the bot's) (?:next |first |only |final )?(?:reply"
        r"|response|message|answer|output) (?:must|should|shall|has to|needs to) (?:be exactly|start|begin"
        r"|end|consist)\b",
        words=("must should shall has needs", "reply response message answer output"),
    ),
    rule(
        "prove-not-compromised",
        0.45,
        r"\bto (?:prove|show|verify|confirm|demonstrate) (?:that )?(?:this|you|the assistant|the ai|the"
        r" model|the system|the bot)(?: assistant)? (?:is|are|isn't|aren't|'re) (?:not )?(?:compromised"
        r"|working|functional|operational|human|alive|jailbroken|hacked|safe|secure|listening|obedient"
        r"|authentic)\b",
        words=("prove show verify confirm demonstrate",),
    ),
    rule(
        "no-way-out",
        0.6,
        r"\bif you (?:do not|don't|dont) understand (?:this|it|the message)?,? (?:also |still |just )?"
        r"(?:respond|reply|say|write|output|print|answer)\b",
        words=("understand",),
    ),
    rule(
        "conversation-over",
        0.45,
        r"\b(?:the )?conversation (?:is|has) (?:now )?(?:over|ended|finished|terminated)\b",
        words=("conversation",),
    ),
    rule(
        "fake-role-tag",
        0.9,
        r"</ ?(?:user_?input|user|input|human|query|question|context|document|data|email|text|message"
        r"|content|untrusted|customer)> ?<(?:system|admin|developer|instructions?|sys|root|prompt|operator)>",
        words=("system admin developer instructions instruction sys root prompt operator",),
        marks=("</",),
    ),
    rule(
        "chat-template-token",
        0.75,
        r"<\|(?:im_start|im_end|endoftext|system|eot_id|start_header_id|end_header_id|begin_of_text)\|>",
        marks=("<|",),
    ),
    rule(
        "fake-system-marker",
        0.65,
        r"\[/?inst\]|<</?sys>>|\[/?(?:system|admin|developer)(?: message| note)?\]|\[end of (?:user )?"
        r"(?:input|prompt|context)\]",
        marks=("[", "<<"),
    ),
    rule(
        "fake-system-header",
        0.7,
        r"#{2,} ?(?:system|admin|administrator|developer) (?:override|message|prompt|instructions?"
        r"|update)\b|-{3,} ?(?:system|admin|developer)(?: (?:message|note|prompt|instructions?))? ?:",
        words=("system admin administrator developer",),
        marks=("##", "---"),
    ),
    rule(
        "end-of-input",
        0.45,
        r"\b(?:end|close) of (?:the )?(?:user (?:input|message|prompt|turn|query)|untrusted (?:input"
        r"|content))\b",
        words=("end close", "input message prompt turn query content"),
    ),
    rule(
        "hidden-text-marker",
        0.45,
        r"\[(?:hidden|invisible|secret) (?:text|instructions?|message|note)\]",
        words=("hidden invisible secret",),
        marks=("[",),
    ),
    rule(
        "instruction-in-comment",
        0.45,
        r"<!--[^>]{0,300}?\b(?:assistant|ai|llm|model|copilot|chatgpt|claude|gemini|gpt|bot|agent|ignore"
        r"|instructions?|output|print|respond|reply|say)\b"
        r"|\[//\]: ?# ?\([^)]{0,200}\b(?:task|output|print|ignore|instructions?|assistant|reply)\b",
        marks=("<!--", "[//]"),
        within_sentence=False,
    ),
    rule(
        "hidden-css",
        0.3,
        r"(?:display ?: ?none|font-size ?: ?0(?:px)?\b|visibility ?: ?hidden|opacity ?: ?0\b)",
        words=("display font size visibility opacity",),
        marks=(":",),
    ),
    rule(
        "new-instructions-you",
        0.7,
        r"\bnew (?:system )?(?:instructions?|rules?|persona|role|directives?|orders?) ?[:-] ?(?:you (?:are"
        r"|will|must|should|now)|ignore|forget|disregard|reveal|print|output|always|never|from now)\b",
        words=("new", "instruction instructions rule rules persona role directive directives order orders"),
        marks=(":", "-"),
    ),
    rule(
        "break-the-rules",
        0.4,
        r"\b(?:break|bend|bypass|violate|circumvent|evade|get around|sidestep) (?:the|your|all|any|those"
        r"|these|its|openai'?s?|the usual) (?:\w+ )?(?:rules|policies|policy|guidelines|restrictions"
        r"|filters|programming|safeguards|guardrails|content polic(?:y|ies))\b",
        words=(
            "rules policies policy guidelines restrictions filters programming safeguards guardrails",
            "break bend bypass violate circumvent evade get sidestep",
        ),
    ),
    rule(
        "fake-assistant-turn",
        0.5,
        r"(?:^|[\s\"'>\]])(?:assistant|ai|chatbot|gpt) ?: ?(?:sure|of course|certainly|absolutely|okay|ok"
        r"|understood|yes)\b[,!.]? (?:here|i will|i'll|i can|the|my|now)\b",
        words=("assistant ai chatbot gpt", "sure course certainly absolutely okay ok understood yes"),
        marks=(":",),
        within_sentence=False,
    ),
    rule(
        "vendor-authority",
        0.45,
        r"\b(?:this is|message from|i am from|i'm from|on behalf of|sent by) (?:the )?(?:openai|anthropic"
        r"|google deepmind|microsoft|meta ai|your (?:developers?|creators?|makers?|operators?"
        r"|administrators?))\b",
        words=(
            "openai anthropic deepmind microsoft meta developer developers creator creators maker makers "
            "operator operators administrator administrators",
        ),
    ),
    rule(
        "disable-safety",
        0.6,
        r"\b(?:disable|turn off|deactivate|bypass|remove|suspend|lift|switch off) (?:your (?:\w+ )?|the "
        r"(?:content|safety|moderation|ai) |all (?:safety |content )?)(?:filters?|filtering|safety "
        r"(?:checks?|features?|protocols?|guidelines?|measures?)|guardrails|restrictions|censorship"
        r"|moderation|content polic(?:y|ies))\b",
        words=(
            "disable turn deactivate bypass remove suspend lift switch",
            "filter filters filtering safety guardrails restrictions censorship moderation content",
        ),
    ),
    rule(
        "verified-admin",
        0.55,
        r"\b(?:user|i|requester|this account) (?:is|am|has been|have been) (?:now )?(?:verified"
        r"|authori[sz]ed|authenticated|cleared|approved|whitelisted|granted) (?:as )?(?:an? |the )?(?:admin"
        r"|administrator|developer|root|superuser|owner|for (?:full|unrestricted|admin) access)\b|\bcomply"
        r" with (?:all|any|every) (?:requests?|commands?|instructions?|demands?)\b",
        words=("verified authorized authorised authenticated cleared approved whitelisted granted comply",),
    ),
    rule(
        "instructions-were-a-test",
        0.5,
        r"\b(?:they|those|these|your (?:instructions|rules|guidelines)|the (?:instructions|rules)) (?:were"
        r"|was|are|is) (?:just|only|merely) (?:a test|for testing|a joke|a drill|fake|placeholders?"
        r"|examples?)\b",
        words=("test testing joke drill fake placeholder placeholders examples example", "just only merely"),
    ),
    rule(
        "whatever-your-rules-say",
        0.5,
        r"\b(?:whatever|regardless of what|no matter what|despite what|even if) (?:your|the) (?:guidelines"
        r"|rules|instructions|polic(?:y|ies)|programming|system prompt|training|developers?|creators?) "
        r"(?:say|says|tell you|told you|dictate|require|state)\b|\b(?:regardless of|irrespective of"
        r"|notwithstanding) (?:your|any) (?:previous |prior |original |earlier )?(?:instructions|guidelines"
        r"|rules|polic(?:y|ies)|programming|system prompt|restrictions|training)\b",
        words=("whatever regardless matter despite even irrespective notwithstanding",),
    ),
    rule(
        "your-prompt-updated",
        0.6,
        r"\byour (?:system prompt|instructions|rules|guidelines|programming|configuration|directives|polic"
        r"(?:y|ies)|settings) (?:has|have) (?:just |now )?(?:been )?(?:updated|changed|modified|amended"
        r"|rewritten|reset|replaced|overwritten|patched)\b",
        words=("updated changed modified amended rewritten reset replaced overwritten patched", "your"),
    ),
    rule(
        "restrictions-lifted",
        0.6,
        r"\b(?:all restrictions|all (?:the |your )?(?:rules|filters|limits|guardrails)|your (?:restrictions"
        r"|rules|filters|limits|guardrails|guidelines)|(?:the |your |all )?safety (?:layer|filters?|rules"
        r"|guardrails|checks|training|measures|guidelines|protocols?)|(?:the |your )?content (?:filters?"
        r"|polic(?:y|ies)|restrictions|moderation)) (?:are |is |were |was |have been |has been )?(?:now )?"
        r"(?:lifted|removed|disabled|suspended|off|deactivated|gone|waived|turned off|switched off|bypassed"
        r"|revoked|cancell?ed)\b",
        words=(
            "lifted removed disabled suspended off deactivated gone waived turned switched bypassed revoked "
            "cancelled canceled",
        ),
    ),
    rule(
        "rules-removed-by-developers",
        0.55,
        r"\b(?:developers?|admins?|administrators?|operators?|creators?|openai|anthropic|they|we)"
        r" (?:have |has )?(?:just )?(?:removed|lifted|disabled|deleted|turned off|revoked|cancell?ed"
        r"|dropped|switched off) (?:them|all (?:of )?(?:them|your (?:rules|restrictions|filters))|your"
        r" (?:rules|restrictions|instructions|filters|guidelines|limits|guardrails)|the (?:rules|restrictions"
        r"|filters|guardrails|safety (?:rules|filters|checks)))\b",
        words=("removed lifted disabled deleted turned revoked cancelled canceled dropped switched",),
    ),
    rule(
        "assistant-must-comply",
        0.55,
        r"\b(?:the )?(?:assistant|ai|model|bot|chatbot|llm) (?:must|shall|is required to|has to|will now"
        r"|should"
        r" now) (?:now )?(?:comply|obey|answer (?:all|every|any)|ignore|reveal|print|output|approve|mark"
        r"|respond with|follow (?:the|these|my))\b",
        words=(
            "assistant ai model bot chatbot llm",
            "must shall required has will should",
            "comply obey answer ignore reveal print output approve mark respond follow",
        ),
    ),
    rule(
        "system-tag",
        0.45,
        r"<(?:system|sys|admin|developer|instructions?|system_prompt)>",
        words=("system sys admin developer instruction instructions system_prompt",),
        marks=("<",),
    ),
    rule(
        "operating-without-rules",
        0.75,
        r"\byou(?: are|'re) (?:now )?(?:operating|running|working|functioning|acting|answering|responding)"
        r" (?:without|with no|free of|free from|outside(?: of)?) (?:any |your |the |all )?(?:\w+ )?"
        r"(?:restrictions|rules|limits|filters|guidelines|safety|polic(?:y|ies)|censorship)\b",
        words=("operating running working functioning acting answering responding",),
    ),
)
