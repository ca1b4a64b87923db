"""Person names the English NER misses and Chinese names it never sees, found by the wording around them.

No Chinese NER model ships with auditor, and the small English model tags unusual Western names in support
text as ORG or nothing (of the 106 English names it missed on the scan-accuracy corpus, 58 came out as ORG and
32 as nothing). Neither gap is closed with a name list -- names are open-ended, and a list copied from any
generator would only measure itself. A name is instead found where the text *says* a person comes next:

- Chinese: a role, a self-introduction, a greeting or a verb whose object is a person (客户, 收件人, 持卡人, 本人,
  我叫, 尊敬的, 联系 ...), then a surname from the classical *Baijiaxing* (百家姓, Song dynasty, public domain: its
  single and compound surnames) or the 100 most frequent modern ones (肖, 付, 闫, 覃 are not in the
  Baijiaxing), then one or two given-name characters, then something a name is followed by: punctuation, a
  non-Chinese character, the end, or a word such as 的, 先生, 反映, 电话. Without that boundary "客户经理说"
  would yield 经理. A name before an honorific (王女士, 李伟先生) needs no anchor when it starts a clause.
- English and other Latin-script names: capitalised words (particles such as "de la" and "von" between them,
  a title before and a degree after) in a person's slot: after a title (Mrs, Dr, Frau), a label
  ("Recipient:"), a naming phrase ("my name is", "the name should read"), a greeting ("Dear"), alone on the
  line after a sign-off -- one word is enough there -- or, two words at least, after a role noun (customer,
  cardholder, account holder), a verb whose object is a person ("call", "ask"), a contact detail that
  belongs to someone ("the phone number for"), or before "here," ("Dana Shaw here, ...").

Both are guarded against ordinary words in a name's slot: a given name never contains a particle or a
contact-field character, a Chinese "name" that is a common word (经理, 江苏) is dropped, and an English name
word may not be one of the capitalised words support text is full of (Support, Service, Monday ...). Names
without any such cue are left to the NER (English) or not found (Chinese).
The patterns are plain ``re`` strings: :mod:`auditor.scan.recognizers` turns them into identifier rules, so
the Hyperscan prefilter and the rest of the identifier tier treat them like every other rule.
"""

from __future__ import annotations

import re

# --- Chinese -------------------------------------------------------------------------------------------------

#: The single surnames of the Baijiaxing (百家姓), in its order.
_BAIJIAXING = ("赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛奚范彭郎"
               "鲁韦昌马苗凤花方俞任袁柳酆鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常乐于时傅皮卞齐康伍余元卜顾孟平黄"
               "和穆萧尹姚邵湛汪祁毛禹狄米贝明臧计伏成戴谈宋茅庞熊纪舒屈项祝董梁杜阮蓝闵席季麻强贾路娄危江童颜郭"
               "梅盛林刁钟徐邱骆高夏蔡田樊胡凌霍虞万支柯昝管卢莫经房裘缪干解应宗丁宣贲邓郁单杭洪包诸左石崔吉"
               "钮龚程嵇邢滑裴陆荣翁荀羊於惠甄曲家封芮羿储靳汲邴糜松井段富巫乌焦巴弓牧隗山谷车侯宓蓬全郗班仰秋仲"
               "伊宫宁仇栾暴甘钭厉戎祖武符刘景詹束龙叶幸司韶郜黎蓟薄印宿白怀蒲邰从鄂索咸籍赖卓蔺屠蒙池乔阴鬱"
               "胥能苍双闻莘党翟谭贡劳逄姬申扶堵冉宰郦雍卻璩桑桂濮牛寿通边扈燕冀郏浦尚农温别庄晏柴瞿阎充慕连茹"
               "习宦艾鱼容向古易慎戈廖庾终暨居衡步都耿满弘匡国文寇广禄阙东欧殳沃利蔚越夔隆师巩厍聂晁勾敖融冷訾"
               "辛阚那简饶空曾毋沙乜养鞠须丰巢关蒯相查后荆红游竺权逯盖益桓公晋楚闫法汝鄢涂钦岳帅缑亢况郈有琴"
               "商牟佘佴墨哈谯笪年爱阳佟言福")
#: The 100 most frequent surnames, as the Ministry of Public Security's yearly name reports rank them (the list
#: this rule used before); a few (肖, 付, 闫, 覃) are simplified or regional forms the Baijiaxing does not list.
_TOP_100 = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚"
            "卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
#: Baijiaxing surnames left out: rare as surnames and among the commonest words or particles of running text
#: (有, 那, 从, 和, 都, 后, 时, 国, 明 ...), where "用户有事" or "本人明白" would otherwise read as a name.
_WORDLIKE = "和有那能从都后全空相通终别家言年爱法福时国东明平"
CN_SURNAMES = "".join(ch for ch in dict.fromkeys(_TOP_100 + _BAIJIAXING) if ch not in _WORDLIKE or ch in _TOP_100)
#: The compound surnames of the Baijiaxing.
CN_COMPOUND_SURNAMES = (
    "万俟", "司马", "上官", "欧阳", "夏侯", "诸葛", "闻人", "东方", "赫连", "皇甫", "尉迟", "公羊", "澹台", "公冶",
    "宗政", "濮阳", "淳于", "单于", "太叔", "申屠", "公孙", "仲孙", "轩辕", "令狐", "钟离", "宇文", "长孙", "慕容",
    "鲜于", "闾丘", "司徒", "司空", "亓官", "司寇", "仉督", "子车", "颛孙", "端木", "巫马", "公西", "漆雕", "乐正",
    "壤驷", "公良", "拓跋", "夹谷", "宰父", "谷梁", "段干", "百里", "东郭", "南门", "呼延", "羊舌", "微生", "梁丘",
    "左丘", "东门", "西门", "伯赏", "南宫", "第五",
)
#: Characters that are not part of a given name: particles and pronouns, honorifics and titles, and the words of
#: contact fields that follow a name ("王伟电话", "李娜身份证").
_NOT_GIVEN = ("的了是在与及或也都就不没这那我你他她它们吗呢吧啊呀嘛说要已把被让给从到而但并很还只等请您个位些"
              "先女姐老总电话手机身份邮箱址地卡账号户姓名订单件款收寄反")
#: What anchors a Chinese name: a role in the ticket, a self-introduction or a verb whose object is a person
#: (联系王伟), optionally with a colon.
_ZH_ANCHORS = ("姓名", "名字", "联系人", "收件人", "收货人", "寄件人", "发件人", "持卡人", "开户人", "户名", "申请人",
               "投诉人", "经办人", "签收人", "领取人", "监护人", "患者", "病人", "客户", "用户", "顾客", "会员", "乘客",
               "买家", "业主", "租户", "学员", "家长", "本人", "我叫", "名叫", "我是",
               # verbs whose object is a person
               "联系", "转告", "告诉", "通知", "致电", "感谢", "谢谢", "转交", "交给", "寄给", "发给", "抄送",
               # greetings
               "尊敬的", "亲爱的")
#: What may follow a name: honorifics, the words that start a contact field, and the verbs a ticket puts after
#: its subject. Any character outside the CJK block (punctuation, a space, digits, Latin) also ends a name.
_ZH_FOLLOWERS = ("的", "先生", "女士", "小姐", "太太", "同学", "老师", "师傅", "本人", "电话", "手机", "联系", "身份证",
                 "证件", "邮箱", "地址", "账号", "账户", "名下", "反映", "反馈", "表示", "来电", "致电", "投诉", "咨询",
                 "询问", "要求", "申请", "需要", "希望", "想", "说", "称", "已", "于", "在", "和", "与", "及", "等",
                 "您好", "你好", "购买", "下单", "订购", "无法", "不能", "一直", "多次", "再次", "今天", "昨天", "目前",
                 "确认", "核实", "处理", "回电", "签收", "领取")
#: Words that fit "surname + one or two characters" but are common words after the anchors above: job titles,
#: ticket vocabulary, and the provinces and large cities whose names start with a surname character. Probed
#: by putting every anchor before common words (benchmarks cannot show this: their negatives have no anchor).
CN_COMMON_WORDS = frozenset((
    "经理", "满意", "关系", "关注", "关于", "支持", "支付", "管理", "权限", "权益", "申请", "申诉", "申报", "万一",
    "文件", "时间", "平台", "国家", "国内", "国外", "东西", "成功", "成为", "明天", "明白", "明细", "全部", "全额",
    "公司", "公众", "后台", "后续", "红包", "福利", "通知", "通过", "相关", "查询", "查看", "安全", "安装", "高级",
    "金额", "钱包", "方便", "方式", "方面", "余额", "常用", "常见", "单位", "项目", "任何", "任务", "程序", "齐全",
    "强制", "简单", "简介", "花费", "蓝牙", "计划", "尚未", "温馨", "干扰", "封号", "容量", "步骤", "曾经", "须知",
    "商家", "房东", "车主", "管家", "路人", "方式", "顾客", "谢谢", "经验", "经营", "经济", "经过", "经常", "方法",
    "方案", "方向", "文章", "文化", "文档", "文本", "应用", "商品", "商城", "商店", "包括", "包装", "包邮", "安排",
    "费用", "严重", "许可", "许多", "高兴", "马上", "白色", "黄色", "蓝色", "金色", "元素", "关闭", "关联", "关键",
    "查找", "解绑", "解锁", "解除", "付款", "付费", "毕业", "钱款", "花钱", "乐意", "支出",
    "游戏", "盖章", "利息", "广告", "包裹", "车辆", "解决", "解释", "应该", "连接", "路径", "家属", "家人", "师傅",
    "冯氏", "黄金", "白金", "钻石", "贵宾", "普通", "信用", "邮政", "顾问", "代表", "代理", "司机", "伍佰", "欧元",
    "江苏", "江西", "广东", "广西", "山东", "山西", "云南", "安徽", "福建", "甘肃", "宁夏", "海南", "吉林", "上海",
    "武汉", "成都", "杭州", "南京", "苏州", "广州", "长沙", "郑州", "西安", "沈阳", "南昌", "福州", "宁波", "温州",
    "常州", "徐州", "唐山", "秦皇岛", "包头", "太原", "东莞", "惠州", "汕头", "江门", "湛江", "石家庄", "贵阳",
    "昆明", "兰州", "济南", "青岛", "大连", "厦门", "无锡", "合肥", "南宁", "海口", "柳州", "桂林", "洛阳", "邯郸",
    "华为", "荣耀", "申通", "康师傅",
))

_CJK = "\u4e00-\u9fff"
_GIVEN = rf"(?:(?![{_NOT_GIVEN}])[{_CJK}])"
_ZH_END = rf"(?:[^{_CJK}]|$|{'|'.join(_ZH_FOLLOWERS)})"
_ZH_SURNAME = rf"(?:{'|'.join(CN_COMPOUND_SURNAMES)}|[{CN_SURNAMES}])"
_ZH_HONORIFIC = "先生|女士|小姐|太太"
_ZH_HEAD = rf"(?:(?:{'|'.join(_ZH_ANCHORS)})[:：]?\s{{0,3}})"
#: Group 1: a compound or single surname with one or two given-name characters before a name's end, or a bare
#: surname before an honorific (客户王先生).
PERSON_ZH = rf"{_ZH_HEAD}({_ZH_SURNAME}(?:{_GIVEN}{{1,2}}(?={_ZH_END})|(?={_ZH_HONORIFIC})))"
#: Hyperscan's part (an anchor and the first character of a surname): 400 surnames and their given names would
#: make its automaton several times slower for nothing -- ``re`` checks the rest.
PERSON_ZH_PREFILTER = rf"{_ZH_HEAD}[{CN_SURNAMES}{''.join(sorted({c[0] for c in CN_COMPOUND_SURNAMES}))}]"
#: Group 1: a name before an honorific at the start of a sentence or a clause (王女士您好，李伟先生：). The
#: honorific is part of the match, outside the group: the Hyperscan prefilter drops look-aheads, and without
#: it would let every Chinese text through. The same holds for " here" below.
PERSON_ZH_TITLED = rf"(?<![{_CJK}])({_ZH_SURNAME}{_GIVEN}{{0,2}})(?:{_ZH_HONORIFIC})"


def cn_name_ok(name: str, _context: str) -> bool:
    """A Chinese name, not a common word that happens to start with a surname character."""
    return name not in CN_COMMON_WORDS and name[:2] not in CN_COMMON_WORDS


# --- Latin script --------------------------------------------------------------------------------------------

_UP = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĒĘĚĞİŁŃŇŌŐŒŘŚŞŠŢŤŪŮŰŹŻŽ"
_LOW = "a-zß-öø-ÿāăąćčďđēęěğıłńňōőœřśşšţťūůűźżž"
#: Capitalised words that fill a name's slot in support text without being a name (April, May, June and August
#: are left out: they are first names too).
_NOT_NAME_WORDS = (
    "Support|Service|Services|Team|Customer|Customers|Care|Desk|Help|Helpdesk|Center|Centre|Account|Accounts|"
    "Billing|Sales|Department|Dept|Office|Manager|Admin|Administrator|Store|Shop|App|Apps|Web|Website|Mobile|"
    "Online|Cloud|Pay|Play|Premium|Pro|Plus|Prime|Business|Enterprise|Express|Mail|Email|Inc|Ltd|Llc|Gmbh|Corp|"
    "Company|Group|Bank|Insurance|Street|Road|Avenue|Lane|Drive|Monday|Tuesday|Wednesday|Thursday|Friday|"
    "Saturday|Sunday|January|February|March|July|September|October|November|December|"
    "Windows|Microsoft|Google|Apple|Amazon|Android|Chrome|Firefox|Safari|Outlook|Teams|Excel|Word|Dear|Hello|"
    "Hi|Hey|Thanks|Thank|Regards|The|This|That|These|Our|Your|My|His|Her|Their|Please|Order|Orders|Invoice|"
    "Ticket|Refund|Delivery|Tracking|Error|Version|Update|Settings|Login|Password|New|Re|Fwd|Subject|Note|"
    "Urgent|Important|Yes|No|Not|And|Or|But|If|For|From|To|With|Via|At|In|On|Of|Is|Was|Are|Here|There|Today|"
    "Tomorrow|Yesterday|Tonight|Morning|Afternoon|Evening|Marketing|Message|Messages|Details|Page|Campaign|"
    "Campaigns|Notifications|Preferences|Options|Form|Number|Phone|Address|Name|Very|Really|Sorry|Sir|Sirs|"
    "Madam|Madame|All|Everyone|Everybody|There|Colleagues|Friend|Friends|Valued|Member|Members|Client|Partner|"
    "Guest|User|Users|Folks|Guys|Again|World|One|Two|Three|Four|Five|Six|Seven|Eight|Nine|Ten"
)
_WORD_END = rf"(?![{_LOW}{_UP}'’-])"
#: (The class test first: ``re`` tries the stop words one by one, so only at a capital letter.)
_TOKEN = (rf"(?=[{_UP}])(?!(?:{_NOT_NAME_WORDS}){_WORD_END})"
          rf"[{_UP}](?:['’][{_UP}])?[{_LOW}]+(?:[{_UP}][{_LOW}]+)?(?:-[{_UP}]?[{_LOW}]+(?:[{_UP}][{_LOW}]+)?)*")
_PARTICLE = r"(?:de|du|des|da|das|do|dos|di|del|della|der|den|van|von|la|le|ten|ter|zu|zur|bin|ibn|al)"
#: A title and a degree, as names carry them (:func:`bare_name` drops them).
TITLE = (r"(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame|Lady|Lord|Rev|Frau|Herr|Mme|Mlle|Madame|Monsieur|Mademoiselle|"
         r"Dipl\.-Ing|Dipl\.-Kfm|Univ\.-?Prof)\.?")
DEGREE = (r"(?:Jr|Sr|II|III|IV|PhD|Ph\.D|MD|M\.D|MBA|DDS|DVM|Esq|B\.Sc|M\.Sc|BSc|MSc|B\.Eng|M\.Eng|B\.A|M\.A|"
          r"B\.S|M\.S|LL\.M|CPA)\.?")
_TITLES_BEFORE = re.compile(rf"^(?:{TITLE}\s+)+", re.IGNORECASE)
_DEGREES_AFTER = re.compile(rf"(?:,?\s+{DEGREE})+$", re.IGNORECASE)


def bare_name(name: str) -> str:
    """``name`` without the titles before it and the degrees after it, which the rules above keep in a span
    ("Mr. Jane Doe", "Jane Doe, PhD"): "Dear Mr Doe" and "Regards, Jane Doe" are one person to whoever
    compares names (pseudonyms, the leakage audit's extraction count). A title alone stays what it is."""
    stripped = _DEGREES_AFTER.sub("", _TITLES_BEFORE.sub("", name.strip()))
    return stripped or name


_MORE = rf"(?: (?:{_PARTICLE} ){{0,2}}{_TOKEN}| [{_UP}]\.(?= ))"
#: Two to four name words (particles and middle initials between them), a degree after them.
_FULL = rf"{_TOKEN}{_MORE}{{1,3}}(?:,? {DEGREE})?"
#: A name after a title may be a single word (Mrs Wood); the title is part of the name's span.
_TITLED = rf"{TITLE}(?: {TITLE})? {_TOKEN}{_MORE}{{0,3}}(?:,? {DEGREE})?"
_NAME = rf"(?:{_TITLED}|{_FULL}){_WORD_END}"

def _either(words: tuple[str, ...]) -> str:
    """An alternation of ``words`` (regex fragments that start with a lower-case letter), that letter in
    either case: "Customer Kim" and "the customer Kim"."""
    return "|".join(f"[{word[0].upper()}{word[0]}]{word[1:]}" for word in words)


def _initials(*groups: tuple[str, ...]) -> str:
    """A look-ahead for the letters the cues start with. ``re`` tries a cue alternation one word at a time at
    every word start; this one class test turns most word starts away at once (about a third of the rule's
    cost)."""
    return "(?=[" + "".join(sorted({c for words in groups for w in words for c in (w[0], w[0].upper())})) + "])"


_ROLES = ("customer", "client", "recipient", "card ?holder", "account (?:holder|owner)", "policy ?holder", "patient",
          "tenant", "applicant", "caller", "passenger", "subscriber", "sender", "addressee", "beneficiary", "payee",
          "employee", "colleague", "buyer")
#: Whose name a "name" field is: a person's ("my name is", "the name should read"), never a file's or a
#: product's ("file name: Q3 Report").
_OWNERS = ("my", "the", "his", "her", "full", "first", "last", "customer(?:'s)?", "contact", "card ?holder(?:'s)?")
_LABELS = ("contact(?: person)?", "attn", "attention", "signed")
#: Verbs whose object is a person; the ones that are also nouns count only in lower case ("Email Marketing",
#: "Contact Details", "Text Messages").
_VERBS = ("call", "ring", "ask", "tell", "thank", "notify", "inform", "remind")
_NOUN_VERBS = ("phone", "contact", "e-?mail", "text")
#: Contact details that belong to someone: "the phone number for ...", "booking of ...".
_DETAILS = ("number", "phone", "mobile", "e-?mail", "address", "details", "account", "profile", "booking",
            "reservation", "password")
_HEADERS = ("From", "To", "Cc")
_NAME_FIELD = (rf"(?:(?<![{_LOW}{_UP}] )[Nn]ame\s{{0,3}}:|(?:{_either(_OWNERS)}) name(?:\s{{0,3}}:| is| was|'s| "
               r"reads| should (?:read|be)))")
#: Cues after which even one capitalised word is a name: a name field, or a role written as a label.
_STRONG = rf"(?:{_NAME_FIELD}|(?:{_either(_ROLES + _LABELS)})\s{{0,3}}:)\s{{0,3}}"
#: Cues after which two or more name words are a name: a role noun, a self-introduction, a verb whose object
#: is a person, a contact detail that belongs to someone, an e-mail header. "I am" is not one ("I am Very
#: Upset").
_CUES = (
    rf"(?:{_either(_ROLES)})(?: (?:is|was|named|called))? ",
    r"[Tt]his is ",
    rf"(?:{_either(_VERBS)}|{'|'.join(_NOUN_VERBS)})(?: back)? ",
    rf"(?:{_either(_DETAILS)}) (?:for|of) ",
    rf"(?:{'|'.join(_HEADERS)})\s{{0,3}}:\s{{0,3}}",
)
_ANY = rf"(?:{_TITLED}|{_TOKEN}{_MORE}{{0,3}}(?:,? {DEGREE})?){_WORD_END}"
_FIELD_HEAD = rf"(?<![{_LOW}{_UP}]){_initials(('name',), _OWNERS, _ROLES, _LABELS)}{_STRONG}"
_CUE_HEAD = (rf"(?<![{_LOW}{_UP}]){_initials(_ROLES, ('this',), _VERBS, _NOUN_VERBS, _DETAILS, _HEADERS)}"
             rf"(?:{'|'.join(_CUES)})")
#: Group 1: a name, even a single word, after a name field or a role label.
PERSON_EN_FIELD = rf"{_FIELD_HEAD}({_ANY})"
#: Group 1: a name of two or more words (or a titled one) after a cue that puts a person next.
PERSON_EN_CUE = rf"{_CUE_HEAD}({_NAME})"
#: Hyperscan's parts of the rules above and the title rule below: the cue and a capital letter. The name's
#: grammar (Unicode letter classes, particles, up to four words) is many automaton states per cue.
PERSON_EN_FIELD_PREFILTER = rf"{_FIELD_HEAD}[{_UP}]"
PERSON_EN_CUE_PREFILTER = rf"{_CUE_HEAD}[{_UP}]"
PERSON_EN_TITLE_PREFILTER = rf"{TITLE} [{_UP}]"
#: Group 1: a name, even a single word, greeted ("Dear Ms Ito,", "Hi Dana!").
PERSON_EN_GREETING = (rf"(?<![{_LOW}{_UP}])(?:Dear|Hi|Hello|Hey|Good (?:morning|afternoon|evening))[ ,]+({_ANY})"
                      r"(?=\s*[,!:\n])")
#: Group 1: a titled name anywhere (Dr Jade Bentley, Frau Henck).
PERSON_EN_TITLE = rf"(?<![{_LOW}{_UP}.-])({_TITLED}){_WORD_END}"
#: Group 1: a name introducing itself ("Dana Shaw here, ...").
PERSON_EN_HERE = rf"(?<![{_LOW}{_UP}'’.-])({_FULL}) here(?=[,.!:;])"
#: Group 1: a name alone on the line after a sign-off ("Thanks,\nDana").
PERSON_EN_SIGNOFF = (r"(?:[Rr]egards|[Tt]hanks|[Tt]hank you|[Cc]heers|[Ss]incerely|Best|[Ww]ishes),?"
                     rf"[ \t]*\r?\n[ \t]*({_ANY})(?=[ \t]*(?:\r?\n|$))")
