"""Value pools for train/data.py: the things people name in requests.

Every generator takes a random.Random and returns a Fact: the text as it appears in the
query (`surface`) and the typed values an argument may take from it. Arguments are always
recoverable from the query (a copy of the surface, or its number / boolean / enum member),
so the answer is determined by the input and exact match is a fair measure.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Fact:
    surface: str
    # Typed readings: "num" (int or float), "bool", "enum" (a schema enum member),
    # "list" (array of strings), "string" (when it differs from the surface).
    values: dict = field(default_factory=dict)

    def value(self, typ: str):
        if typ == "string":
            return self.values.get("string", self.surface)
        if typ in ("integer", "number"):
            return self.values["num"]
        if typ == "boolean":
            return self.values["bool"]
        if typ.startswith("enum:"):
            return self.values.get("enum", self.surface)
        if typ.startswith("array"):
            return self.values["list"]
        raise ValueError(f"Fact.value: unknown type {typ}")


def words(text: str) -> list[str]:
    return [w.strip() for w in text.split("|") if w.strip()]


CITIES = words("""Paris|London|Tokyo|New York|Berlin|Sydney|Madrid|Rome|Toronto|Chicago|Boston|
Seattle|San Francisco|Los Angeles|Miami|Denver|Austin|Dallas|Houston|Atlanta|Vancouver|Montreal|
Mexico City|Buenos Aires|Lima|Bogota|Santiago|Rio de Janeiro|São Paulo|Lisbon|Barcelona|Amsterdam|
Brussels|Vienna|Prague|Warsaw|Budapest|Stockholm|Oslo|Copenhagen|Helsinki|Dublin|Edinburgh|
Manchester|Zürich|Geneva|Munich|Hamburg|Milan|Naples|Athens|Istanbul|Cairo|Nairobi|Lagos|
Cape Town|Johannesburg|Dubai|Doha|Mumbai|Delhi|Bangalore|Karachi|Bangkok|Singapore|Kuala Lumpur|
Jakarta|Manila|Hong Kong|Shanghai|Beijing|Seoul|Osaka|Kyoto|Taipei|Hanoi|Melbourne|Auckland|
Honolulu|Anchorage|Phoenix|Portland|Nashville|New Orleans|Philadelphia|Reykjavik|Marrakech|
Kraków|Málaga|Nice|Lyon|Porto|Seville|Florence|Venice|Salzburg|Tallinn|Riga|Accra|Tunis|Lahore""")

COUNTRIES = words("""France|Japan|Germany|Italy|Spain|Canada|Brazil|India|Mexico|Kenya|Egypt|
Australia|Norway|Sweden|Portugal|Greece|Turkey|Thailand|Vietnam|Peru|Chile|Argentina|Ireland""")

FIRST = words("""Alice|Bob|Carol|David|Emma|Frank|Grace|Henry|Isabel|Jack|Karen|Liam|Maria|Noah|
Olivia|Peter|Quinn|Rachel|Sam|Tom|Uma|Victor|Wendy|Xavier|Yara|Zoe|Aisha|Ben|Chloe|Diego|Elena|
Fatima|George|Hannah|Ivan|Julia|Kenji|Laura|Mohammed|Nina|Oscar|Priya|Ravi|Sofia|Tariq|Ursula|
Vera|Will|Yuki|Zara|Adam|Bella|Carlos|Dana|Ethan|Fiona|Gabriel|Hugo|Ines|James|Kate|Leo|Mia|
Nora|Omar|Paula|Rosa|Sean|Tina|Lucas|Mei|Ahmed|Anna|Mike|Sarah|John|Lisa|Mark|Jenny|Raj|Amir|
José|Chloé|Søren|Zoë""")
LAST = words("""Smith|Johnson|Brown|Garcia|Miller|Davis|Martinez|Lopez|Wilson|Anderson|Taylor|
Thomas|Moore|Martin|Lee|Clark|Lewis|Walker|Hall|Young|King|Wright|Scott|Green|Baker|Adams|Nelson|
Hill|Campbell|Mitchell|Roberts|Carter|Phillips|Evans|Turner|Torres|Parker|Collins|Edwards|Stewart|
Nguyen|Kim|Patel|Chen|Singh|Müller|Rossi|Dubois|Tanaka|Silva|Kowalski|Ivanova|O'Brien""")
RELATIONS = words("""mom|dad|my wife|my husband|my sister|my brother|grandma|my boss|the team|
my landlord|the babysitter|my manager|my roommate|the doctor|my coach""")

DOMAINS = words("example.com|gmail.com|company.org|work.io|mail.net|outlook.com|acme.co|school.edu")

ROOMS = words("""kitchen|living room|bedroom|bathroom|office|garage|hallway|dining room|basement|
kids room|porch|patio|attic|guest room|master bedroom|study|nursery|laundry room|den|backyard""")
COLORS = words("red|blue|green|warm white|cool white|purple|orange|pink|yellow|teal|soft white|amber")
DOORS = words("front|back|garage|side|patio|basement|main")

SONGS = words("""Bohemian Rhapsody|Blinding Lights|Yesterday|Hotel California|Shape of You|
Imagine|Hey Jude|Rolling in the Deep|Billie Jean|Smells Like Teen Spirit|Wonderwall|Halo|
Dancing Queen|Purple Rain|Lose Yourself|Bad Guy|Levitating|Clocks|Viva la Vida|Hallelujah|
Stairway to Heaven|Take On Me|Africa|Sweet Caroline|Thriller|Uptown Funk|Someone Like You|
Dreams|Jolene|Respect|Superstition|Heroes|Creep|Karma Police|Under Pressure|Perfect|Believer|
Riptide|Despacito|Gangnam Style|Fix You|Mr. Brightside|September|Toxic|Vogue|Zombie""")
ARTISTS = words("""Queen|The Weeknd|The Beatles|Eagles|Ed Sheeran|John Lennon|Adele|
Michael Jackson|Nirvana|Oasis|Beyoncé|ABBA|Prince|Eminem|Billie Eilish|Dua Lipa|Coldplay|
Leonard Cohen|Led Zeppelin|a-ha|Toto|Neil Diamond|Bruno Mars|Fleetwood Mac|Dolly Parton|
Aretha Franklin|Stevie Wonder|David Bowie|Radiohead|Imagine Dragons|Vance Joy|Luis Fonsi|
The Killers|Earth, Wind & Fire|Britney Spears|Madonna|Taylor Swift|Miles Davis|Daft Punk""")
GENRES = words("""jazz|classical music|rock|hip hop|lo-fi beats|country|reggae|blues|pop|
electronic music|ambient music|metal|soul|salsa|k-pop|indie folk|disco|piano music""")
PLAYLISTS = words("""Morning Run|Chill Vibes|Focus|Workout Mix|Road Trip|Sleep Sounds|Dinner Party|
Throwbacks|Study Beats|Summer Hits|Rainy Day|Top 50|Deep Focus|Party Time|Coffee House""")
PODCASTS = words("""The Daily|Radiolab|Serial|Hardcore History|This American Life|Planet Money|
Freakonomics|TED Talks Daily|The Joe Rogan Experience|Stuff You Should Know|Huberman Lab""")

LANGUAGES = words("""Spanish|French|German|Italian|Japanese|Chinese|Korean|Portuguese|Russian|
Arabic|Hindi|Dutch|Swedish|Greek|Turkish|Polish|Vietnamese|Thai|English|Hebrew""")
PHRASES = words("""hello|good morning|thank you very much|where is the train station|I love you|
how much does this cost|good night|see you tomorrow|the bill, please|I am lost|happy birthday|
where is the bathroom|nice to meet you|I would like a coffee|what time is it|excuse me|
can you help me|the weather is nice today|I don't understand|congratulations""")

CURRENCIES = words("USD|EUR|GBP|JPY|CAD|AUD|CHF|INR|CNY|MXN|BRL|SEK|dollars|euros|pounds|yen|rupees")
TICKERS = words("""AAPL|MSFT|GOOGL|AMZN|TSLA|NVDA|META|NFLX|IBM|ORCL|INTC|AMD|UBER|SHOP|SPOT|
DIS|NKE|KO|PEP|JPM|BA|SBUX|PYPL|ADBE|CRM""")
APPS = words("""Spotify|Camera|Settings|Maps|Calculator|WhatsApp|Slack|Chrome|Notes|Calendar|
Photos|Gmail|YouTube|Netflix|Instagram|Zoom|Safari|Firefox|Terminal|Clock|Weather|Uber""")
RESTAURANTS = words("""Luigi's|The Golden Dragon|Sakura Sushi|Blue Bottle Cafe|Taco Loco|
Chez Pierre|The Burger Joint|Olive Garden|Nando's|Pizza Palace|The Green Leaf|Spice Route|
Le Petit Bistro|Noodle House|Casa Mia|The Steakhouse|Dim Sum Garden""")
DISHES = words("""margherita pizza|pad thai|chicken curry|sushi platter|caesar salad|
cheeseburger|veggie burrito|ramen|lasagna|fish and chips|falafel wrap|pho|beef tacos|
mushroom risotto|banana bread|pancakes|tomato soup|chocolate cake|guacamole|paella""")
INGREDIENTS = words("""chicken|tofu|salmon|eggplant|chickpeas|spinach|mushrooms|lentils|
shrimp|quinoa|sweet potato|broccoli|avocado|beef|zucchini|rice""")
CUISINES = words("Italian|Mexican|Thai|Indian|Japanese|Chinese|French|Greek|Korean|Vietnamese|Lebanese")
ITEMS = words("""milk|eggs|bread|bananas|olive oil|paper towels|coffee|butter|apples|rice|
toothpaste|dish soap|orange juice|chicken breasts|yogurt|tomatoes|onions|cheese|cereal|
batteries|light bulbs|trash bags|oat milk|avocados|pasta|flour|sugar|dog food|shampoo""")
LISTS = words("shopping|grocery|to-do|packing|Costco|hardware store|party|weekend")
MOVIES = words("""Dune|Oppenheimer|Barbie|Inception|The Matrix|Interstellar|Titanic|Avatar|
Jaws|Frozen|Toy Story|Parasite|Gladiator|The Godfather|Spirited Away|Top Gun|Arrival|Up""")
TEAMS = words("""Lakers|Real Madrid|Yankees|Arsenal|Barcelona|Warriors|Chelsea|Liverpool|
Celtics|Red Sox|Cowboys|Packers|Bayern Munich|Juventus|Manchester United|Dodgers|Bulls""")
WORDS_TO_DEFINE = words("""serendipity|ephemeral|ubiquitous|quixotic|melancholy|paradigm|
resilience|entropy|photosynthesis|algorithm|nostalgia|wanderlust|eloquent|pragmatic""")
PLACES = words("""the airport|the train station|Central Park|the nearest gas station|
the Louvre|Golden Gate Bridge|the office|home|the hospital|the mall|Times Square|
the Eiffel Tower|the library|the beach|downtown|the stadium|Union Station|the museum|
the nearest pharmacy|the city center|the university|the zoo""")
TRANSPORT = ["driving", "walking", "transit", "cycling"]
TOPICS = words("""python tutorials|best pizza near me|how to tie a tie|cheap flights to Bali|
the history of Rome|electric cars|climate change|the James Webb telescope|vegan recipes|
how to fix a leaky faucet|marathon training plans|the French Revolution|quantum computing|
used cars under 10000|the best hiking trails|knitting patterns|remote jobs|black holes|
how to learn guitar|sourdough starter|tax deadlines|solar panels|the Olympics|machine learning|
noise cancelling headphones|Greek mythology|home workouts|the stock market|birthday gift ideas|
how to make cold brew|job interview tips|the tallest mountain in Africa|Italian grammar""")
NEWS_TOPICS = words("""technology|sports|politics|business|science|health|entertainment|
the elections|artificial intelligence|the economy|climate|football|space exploration|
the housing market|cryptocurrency|world news|local news""")
EVENT_TITLES = words("""Team standup|Dentist appointment|Project review|Yoga class|Dinner party|
Budget meeting|Parent-teacher conference|Doctor's appointment|Book club|Sprint planning|
Client call|Haircut|Piano lesson|Birthday party|Coffee chat|Board meeting|Gym session|
Weekly sync|Car service|Job interview|Movie night|Design review|Soccer practice|Date night""")
TASKS = words("""call mom|buy milk|take out the trash|pay the rent|water the plants|
walk the dog|submit the report|book a dentist appointment|renew my passport|pick up the kids|
send the invoice|back up my laptop|return the library books|feed the cat|charge my phone|
call the plumber|order flowers|check the oven|stretch|drink water|take my medicine|
email the landlord|buy a birthday card|cancel the gym membership|clean the garage|lock the car""")
MESSAGES = words("""I'm running late|see you soon|happy birthday!|can you pick up milk?|
call me when you land|the meeting moved to Friday|dinner is ready|I'll be there in 10 minutes|
good luck today!|don't forget your keys|thanks for everything|are we still on for tonight?|
I love you|the package arrived|let's meet at the cafe|can you call me back?|
I'm stuck in traffic|congrats on the new job|the kids are asleep|see you at the game|
running 5 minutes behind|bring an umbrella|where are you?|I left the keys under the mat|
the report is done|lunch is on me today|miss you|drive safe|on my way|got it, thanks""")
SUBJECTS = words("""Project update|Quarterly report|Lunch on Friday|Meeting notes|Invoice|
Vacation request|Welcome aboard|Contract draft|Weekend plans|Budget review|Interview schedule|
Party invitation|Overdue payment|Travel itinerary|Feedback|Design mockups|Status report""")
NOTES = words("""buy a new phone charger|the wifi password is sunflower42|ideas for the party:
balloons and cake|parking spot is level 3 B12|call the bank about the card|Sarah's birthday is
in May|try the new ramen place|book club reads Dune next|the garage code is 4417|
pack sunscreen for the trip|gate code 1234|return the blue jacket""")
FILES = words("""/home/user/notes.txt|report.pdf|~/Documents/budget.xlsx|src/main.py|
data/config.json|/var/log/syslog|photos/beach.jpg|README.md|notes/todo.txt|/tmp/output.csv|
slides/deck.pptx|invoice_2024.pdf|~/Downloads/setup.sh|backup.zip|docs/guide.md""")
DIRS = words("""/home/user|~/Documents|src|/var/log|photos|~/Downloads|/tmp|projects/app|docs|
~/Desktop|/etc|music/albums""")
TRACKING = ["1Z999AA10123456784", "9400111899223197428490", "TBA123456789000",
            "LX123456789CN", "7489 2210 5521", "JD014600006251387", "RR987654321US"]
CAMERAS = words("front door|backyard|garage|nursery|driveway|living room|porch|side gate")
WORKOUTS = words("running|cycling|swimming|yoga|weight training|rowing|hiking|pilates|boxing|walking")
DEVICES = words("TV|speaker|air purifier|fan|coffee maker|washing machine|dishwasher|heater|dehumidifier")
PRIORITIES = ["low", "medium", "high"]
USERNAMES = words("alice|bob_smith|jdoe|mary.k|dev_ops|sam99|tanaka_k|the_real_lee|p.patel|zoe.w")


def pick(rng: random.Random, pool: list[str]) -> Fact:
    return Fact(rng.choice(pool))


def city(rng):
    return pick(rng, CITIES)


def country(rng):
    return pick(rng, COUNTRIES)


def city_or_country(rng):
    return pick(rng, CITIES if rng.random() < 0.85 else COUNTRIES)


def person(rng):
    r = rng.random()
    if r < 0.6:
        return Fact(rng.choice(FIRST))
    if r < 0.85:
        return Fact(f"{rng.choice(FIRST)} {rng.choice(LAST)}")
    return Fact(rng.choice(RELATIONS))


def first_name(rng):
    return Fact(rng.choice(FIRST))


def email_address(rng):
    first = rng.choice(FIRST).lower()
    ascii_first = first.encode("ascii", "ignore").decode() or "user"
    r = rng.random()
    if r < 0.5:
        local = ascii_first
    elif r < 0.8:
        local = f"{ascii_first}.{rng.choice(LAST).lower().encode('ascii', 'ignore').decode()}"
    else:
        local = f"{ascii_first}{rng.randint(1, 99)}"
    return Fact(f"{local}@{rng.choice(DOMAINS)}")


def recipient(rng):
    """A name or an email address (emails address people both ways)."""
    return email_address(rng) if rng.random() < 0.5 else person(rng)


def phone(rng):
    fmt = rng.randrange(4)
    a, b, c = rng.randint(200, 989), rng.randint(200, 999), rng.randint(1000, 9999)
    if fmt == 0:
        return Fact(f"{a}-{b}-{c}")
    if fmt == 1:
        return Fact(f"({a}) {b}-{c}")
    if fmt == 2:
        return Fact(f"+1 {a} {b} {c}")
    return Fact(f"+{rng.randint(30, 49)} {rng.randint(10, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}")


def clock_time(rng):
    h = rng.randint(1, 12)
    m = rng.choice([0, 0, 0, 15, 30, 45, 10, 20, 5, 50])
    ampm = rng.choice(["am", "pm", "AM", "PM", "a.m.", "p.m."])
    r = rng.random()
    if r < 0.35:
        return Fact(f"{h}{ampm if ampm in ('am', 'pm', 'AM', 'PM') else 'pm'}")
    if r < 0.65:
        return Fact(f"{h}:{m:02d} {ampm}")
    if r < 0.9:
        return Fact(f"{rng.randint(0, 23):02d}:{m:02d}")
    return Fact(rng.choice(["noon", "midnight", f"{h} o'clock"]))


WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]


def date(rng):
    r = rng.random()
    if r < 0.2:
        return Fact(rng.choice(["today", "tomorrow", "tonight", "this weekend", "next week",
                                "the day after tomorrow"]))
    if r < 0.4:
        return Fact(rng.choice(["", "next ", "this "]) + rng.choice(WEEKDAYS))
    if r < 0.7:
        d = rng.randint(1, 28)
        suffix = rng.choice(["", "", "th" if d not in (1, 2, 3, 21, 22, 23) else ""])
        m = rng.choice(MONTHS)
        return Fact(rng.choice([f"{m} {d}{suffix}", f"{m[:3]} {d}", f"{d} {m}"]))
    if r < 0.9:
        return Fact(f"{rng.randint(2024, 2027)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
    return Fact(f"{rng.randint(1, 12)}/{rng.randint(1, 28)}")


def day_date(rng):
    """A date that reads naturally after 'on'."""
    f = date(rng)
    while f.surface in ("today", "tomorrow", "tonight", "this weekend", "next week", "the day after tomorrow"):
        f = date(rng)
    return f


def integer(lo: int, hi: int):
    def gen(rng):
        n = rng.randint(lo, hi)
        return Fact(str(n), {"num": n})
    return gen


def decimal(lo: float, hi: float, p_int: float = 0.6):
    def gen(rng):
        if rng.random() < p_int:
            n = rng.randint(int(lo), int(hi))
            return Fact(str(n), {"num": n})
        x = round(rng.uniform(lo, hi), rng.choice([1, 2]))
        text = f"{x:.2f}".rstrip("0").rstrip(".") if "." in f"{x}" else str(x)
        val = float(text)
        if val == int(val):
            return Fact(str(int(val)), {"num": int(val)})
        return Fact(text, {"num": val})
    return gen


def money(rng):
    return decimal(1, 2000, p_int=0.7)(rng)


def temperature(rng):
    if rng.random() < 0.7:
        n = rng.randint(16, 28) if rng.random() < 0.7 else rng.randint(60, 80)
        return Fact(str(n), {"num": n})
    x = rng.randint(16, 27) + 0.5
    return Fact(str(x), {"num": x})


def on_off(rng):
    on = rng.random() < 0.55
    return Fact("on" if on else "off", {"bool": on, "enum": "on" if on else "off"})


def enable_disable(rng):
    on = rng.random() < 0.5
    word = rng.choice(["turn on", "enable", "switch on"]) if on else rng.choice(["turn off", "disable", "switch off"])
    return Fact(word, {"bool": on, "enum": "on" if on else "off"})


def lock_unlock(rng):
    lock = rng.random() < 0.6
    return Fact("lock" if lock else "unlock", {"bool": lock, "enum": "lock" if lock else "unlock"})


def enum_of(options: list[str], capitalise: float = 0.15):
    def gen(rng):
        v = rng.choice(options)
        surface = v.capitalize() if rng.random() < capitalise else v
        return Fact(surface, {"enum": v, "string": surface})
    return gen


def expression(rng):
    a, b, c = rng.randint(2, 999), rng.randint(2, 99), rng.randint(2, 20)
    return Fact(rng.choice([f"{a} * {b}", f"{a} + {b}", f"{a} - {b}", f"{a} / {b}",
                            f"({a} + {b}) * {c}", f"sqrt({b * b})", f"{b}^{rng.randint(2, 4)}",
                            f"{a}*{b}", f"{a} + {b} + {c}", f"{b}% of {a}"]))


def duration_text(rng):
    r = rng.random()
    if r < 0.6:
        n = rng.randint(1, 90)
        return Fact(f"{n} minute{'s' if n != 1 else ''}", {"num": n})
    if r < 0.8:
        n = rng.randint(1, 5)
        return Fact(f"{n} hour{'s' if n != 1 else ''}", {"num": n})
    n = rng.choice([10, 15, 20, 30, 45, 90])
    return Fact(f"{n} seconds", {"num": n})


def attendees(rng):
    k = rng.choice([2, 2, 3])
    names = rng.sample(FIRST, k)
    surface = ", ".join(names[:-1]) + " and " + names[-1]
    return Fact(surface, {"list": names})


def items_list(rng):
    k = rng.choice([2, 2, 3])
    chosen = rng.sample(ITEMS, k)
    surface = ", ".join(chosen[:-1]) + " and " + chosen[-1]
    return Fact(surface, {"list": chosen})


def pool(items: list[str]):
    def gen(rng):
        return Fact(rng.choice(items))
    return gen


def tracking(rng):
    if rng.random() < 0.5:
        return Fact(rng.choice(TRACKING))
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))
    return Fact(f"{letters}{rng.randint(10 ** 8, 10 ** 9 - 1)}{rng.choice(['US', 'GB', 'DE', 'CN'])}")


def username(rng):
    return Fact(rng.choice(USERNAMES) if rng.random() < 0.6 else f"user{rng.randint(100, 99999)}")


def order_id(rng):
    return Fact(rng.choice(["", "ORD-"]) + str(rng.randint(10000, 999999)))
