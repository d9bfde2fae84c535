"""The tools the tiny model learns: intents, each with schema variants and query templates.

An Intent is one thing a user may ask for. Its tool appears in the list under one of
several names, descriptions and parameter spellings (so the model reads the schema rather
than memorising one), and its query templates name which parameters the query fills:
`{slot}` is replaced by a value from pools.py and that parameter's argument is the value,
typed by the schema. Parameters a template does not mention are omitted from the call;
`core` parameters appear in every template, so only they may be marked required.

Intents in the same `group` could answer the same request, so a tool list never holds two
of them. The demo's presets (weather, timers, messages, email, calendar, lights,
thermostat, reminders, music, navigation, search) come first and are drawn more often.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import pools as P


@dataclass
class Param:
    slot: str
    keys: list[str]
    types: list[str]  # alternatives: string, integer, number, boolean, enum:a,b, array:string
    descs: list[str]
    gen: Callable | None  # None: a parameter no template fills (optional decoy)
    core: bool = False


@dataclass
class Intent:
    group: str
    names: list[str]
    descs: list[str]
    params: list[Param]
    templates: list[str]
    weight: float = 1.0
    slots: set = field(default_factory=set)


def prm(slot, keys, types, descs, gen=None, core=False):
    return Param(slot, keys.split(), types.split("|"), [d.strip() for d in descs.split("|")], gen, core)


def intent(group, names, descs, params, templates, weight=1.0):
    return Intent(group, names.split(), [d.strip() for d in descs.split("|")], params,
                  [t.strip() for t in templates.strip().split("\n") if t.strip()], weight)


UNIT = P.enum_of(["celsius", "fahrenheit"])
DEMO = 3.0  # weight of the demo's preset tools
DEMO_GROUPS = {"weather", "timer", "alarm", "message", "email", "event", "lights", "thermostat",
               "reminder", "music", "navigation", "search"}

INTENTS: list[Intent] = [
    # ---- demo presets -------------------------------------------------------------------
    intent("weather", "get_weather get_current_weather weather check_weather current_weather weather_lookup fetch_weather",
           "Get current weather for a city|Get the current weather for a location|Look up the weather conditions in a place|"
           "Returns the temperature and conditions for a city|Current weather report",
           [prm("loc", "location city place city_name", "string",
                "City name|The city, e.g. Paris|Location to get the weather for|Name of the city", P.city, core=True),
            prm("unit", "unit units temperature_unit", "enum:celsius,fahrenheit|string",
                "Temperature unit|celsius or fahrenheit|Unit for the temperature", UNIT)],
           """
           What's the weather in {loc}?
           What's the weather like in {loc} today?
           weather in {loc}
           How's the weather in {loc}?
           Is it raining in {loc}?
           Is it cold in {loc} right now?
           Tell me the weather in {loc} in {unit}
           What's the temperature in {loc} in {unit}?
           {loc} weather
           Check the weather for {loc}
           Do I need an umbrella in {loc}?
           How hot is it in {loc}?
           Current conditions in {loc}, in {unit} please
           Show me the weather in {loc} in {unit}
           Get me the weather for {loc}
           Is it sunny in {loc}?
           """, DEMO),
    intent("forecast", "get_forecast get_weather_forecast weather_forecast forecast",
           "Get a multi-day weather forecast|Weather forecast for the coming days|Get the forecast for a location",
           [prm("loc", "location city place", "string", "City name|Where to forecast", P.city, core=True),
            prm("days", "days num_days", "integer", "Number of days|How many days ahead", P.integer(1, 14))],
           """
           What's the forecast for {loc} for the next {days} days?
           Give me the {days}-day forecast for {loc}
           Weather forecast for {loc}
           Will it rain in {loc} this week? Show me the forecast
           {days} day forecast for {loc}
           What's the forecast in {loc}?
           """, 1.0),
    intent("timer", "set_timer start_timer create_timer timer",
           "Set a countdown timer|Start a timer|Create a timer for a number of minutes",
           [prm("min", "minutes duration_minutes", "integer", "Length in minutes|Duration of the timer in minutes",
                P.integer(1, 120), core=True),
            prm("label", "label name title", "string", "Optional label|Name of the timer",
                P.pool(["pasta", "eggs", "laundry", "tea", "pizza", "workout", "nap", "meditation", "oven", "homework"]))],
           """
           Set a timer for {min} minutes
           Start a {min} minute timer
           Timer for {min} minutes
           Set a {min} minute timer for {label}
           Start a timer for {min} minutes called {label}
           Count down {min} minutes
           Set a {label} timer for {min} minutes
           Can you time {min} minutes for the {label}?
           """, DEMO),
    intent("timer", "set_timer start_timer timer countdown",
           "Set a countdown timer|Start a timer for a duration",
           [prm("dur", "duration length time", "string", "Duration, e.g. 10 minutes|How long the timer runs",
                P.duration_text, core=True),
            prm("label", "label name", "string", "Optional label", P.pool(["pasta", "eggs", "laundry", "tea", "bread", "steak"]))],
           """
           Set a timer for {dur}
           Start a timer for {dur}
           Timer {dur}
           Set a {label} timer for {dur}
           Start a {dur} countdown
           Remind me in {dur} with a timer
           """, DEMO / 2),
    intent("alarm", "set_alarm create_alarm alarm add_alarm",
           "Set an alarm|Create an alarm at a time|Schedule a wake-up alarm",
           [prm("time", "time alarm_time at", "string", "Time of the alarm|When the alarm rings, e.g. 7am", P.clock_time, core=True),
            prm("label", "label name note", "string", "Alarm label", P.pool(["gym", "work", "flight", "meds", "school run", "meeting"])),
            prm("day", "day date days", "string", "Day of the alarm", P.date)],
           """
           Set an alarm for {time}
           Wake me up at {time}
           Alarm at {time}
           Set an alarm for {time} {day}
           Wake me up {day} at {time}
           Set an alarm at {time} called {label}
           Create a {label} alarm for {time}
           I need an alarm at {time}
           """, DEMO),
    intent("message", "send_message send_text text_message send_sms message_contact send_chat_message",
           "Send a chat message|Send a text message to a contact|Send an SMS|Message someone",
           [prm("to", "recipient to contact name", "string", "Who to message|Contact name or number|Recipient",
                P.person, core=True),
            prm("msg", "message text body content", "string", "Message text|What to say|The message to send",
                P.pool(P.MESSAGES), core=True)],
           """
           Send a message to {to} saying {msg}
           Text {to}: {msg}
           Tell {to} that {msg}
           Message {to} "{msg}"
           Send {to} a text saying {msg}
           Text {to} '{msg}'
           Let {to} know {msg}
           Send a text to {to} that says {msg}
           Can you message {to} and say {msg}
           SMS {to}: {msg}
           Shoot {to} a message: {msg}
           """, DEMO),
    intent("email", "send_email email compose_email send_mail email_send",
           "Send an email message|Send an email|Compose and send an email to someone",
           [prm("to", "to recipient email_address recipient_email", "string", "Recipient email address|Who receives the email",
                P.recipient, core=True),
            prm("subject", "subject title", "string", "Subject line|Email subject", P.pool(P.SUBJECTS)),
            prm("body", "body message content text", "string", "Email body|The message", P.pool(P.MESSAGES))],
           """
           Send an email to {to} about {subject}
           Email {to} with the subject {subject}
           Email {to} saying {body}
           Send an email to {to} with subject "{subject}" and body "{body}"
           Write an email to {to}: {body}
           Email {to} about {subject} and tell them {body}
           Compose an email to {to}, subject {subject}
           Mail {to} that {body}
           Send {to} an email titled {subject}
           """, DEMO),
    intent("event", "create_event add_event schedule_event create_calendar_event add_to_calendar new_event schedule_meeting",
           "Create a calendar event|Add an event to the calendar|Schedule a meeting or appointment",
           [prm("title", "title name event_name summary", "string", "Event title|Name of the event", P.pool(P.EVENT_TITLES), core=True),
            prm("date", "date day", "string", "Date of the event|When, e.g. tomorrow", P.date),
            prm("time", "time start_time", "string", "Start time|Time of the event", P.clock_time),
            prm("where", "location place", "string", "Where it happens", P.pool(P.PLACES + P.RESTAURANTS)),
            prm("who", "attendees participants", "array:string", "People to invite|Attendee names", P.attendees)],
           """
           Create an event called {title} on {date} at {time}
           Schedule {title} for {date} at {time}
           Add {title} to my calendar on {date}
           Put {title} on my calendar {date} at {time}
           Create a calendar event {title} at {time}
           Book {title} on {date} at {time} at {where}
           Schedule {title} {date} with {who}
           Add an event: {title}, {date}, {time}
           New event {title} on {date}
           Set up {title} at {where} on {date}
           Calendar: {title} {date} at {time}
           Schedule {title} with {who} on {date} at {time}
           """, DEMO),
    intent("lights", "set_lights control_lights turn_on_lights set_light toggle_lights lights smart_light",
           "Turn lights on or off in a room|Control the smart lights|Set the lights in a room",
           [prm("room", "room location area", "string", "Room name|Which room", P.pool(P.ROOMS), core=True),
            prm("state", "state power on", "enum:on,off|boolean", "on or off|Whether the lights are on", P.on_off),
            prm("bright", "brightness level", "integer", "Brightness 0-100|Brightness percent", P.integer(1, 100)),
            prm("color", "color colour", "string", "Light color", P.pool(P.COLORS))],
           """
           Turn {state} the {room} lights
           Turn the lights {state} in the {room}
           Switch {state} the {room} light
           Lights {state} in the {room}
           Dim the {room} lights to {bright} percent
           Set the {room} lights to {bright}%
           Make the {room} lights {color}
           Set the {room} lights to {color}
           Turn {state} the {room} lights and set them to {color}
           Set the {room} lights to {color} at {bright} percent
           Can you turn {state} the light in the {room}?
           """, DEMO),
    intent("thermostat", "set_thermostat set_temperature adjust_thermostat thermostat climate_control",
           "Set the thermostat temperature|Adjust the heating or cooling|Set the target temperature",
           [prm("temp", "temperature target_temperature degrees", "number", "Target temperature|Degrees", P.temperature, core=True),
            prm("room", "room zone", "string", "Room or zone", P.pool(P.ROOMS)),
            prm("mode", "mode", "enum:heat,cool,auto", "heat, cool or auto", P.enum_of(["heat", "cool", "auto"]))],
           """
           Set the thermostat to {temp} degrees
           Make it {temp} degrees in the {room}
           Set the temperature to {temp}
           Change the thermostat to {temp}
           Heat the {room} to {temp} degrees
           Set the {room} to {temp} degrees on {mode}
           Thermostat {temp} please
           Put the thermostat on {mode} at {temp}
           Turn the heat up to {temp}
           """, DEMO),
    intent("reminder", "set_reminder create_reminder add_reminder remind_me reminder",
           "Set a reminder|Create a reminder for a task|Remind the user about something",
           [prm("task", "message task text reminder title what", "string", "What to be reminded of|Reminder text",
                P.pool(P.TASKS), core=True),
            prm("time", "time at when", "string", "When to remind", P.clock_time),
            prm("date", "date day", "string", "Day of the reminder", P.date)],
           """
           Remind me to {task} at {time}
           Remind me to {task} {date}
           Remind me to {task} {date} at {time}
           Set a reminder to {task}
           Don't let me forget to {task} at {time}
           Create a reminder: {task} on {date}
           Reminder to {task} at {time}
           Remind me at {time} to {task}
           Can you remind me {date} to {task}?
           """, DEMO),
    intent("music", "play_music play_song play music_play play_track",
           "Play music|Play a song|Play a song or artist on the speaker",
           [prm("song", "song title track query", "string", "Song title|What to play", P.pool(P.SONGS), core=True),
            prm("artist", "artist by", "string", "Artist name", P.pool(P.ARTISTS))],
           """
           Play {song} by {artist}
           Play {song}
           Put on {song} by {artist}
           I want to hear {song}
           Play the song {song}
           Can you play {song} from {artist}?
           Play some {artist}, {song}
           Queue up {song} by {artist}
           """, DEMO),
    intent("music", "play_music play_artist play",
           "Play music by an artist|Play music",
           [prm("artist", "artist query", "string", "Artist or band", P.pool(P.ARTISTS), core=True)],
           """
           Play some {artist}
           Play music by {artist}
           Put on {artist}
           I want to listen to {artist}
           """, DEMO / 3),
    intent("playlist", "play_playlist start_playlist",
           "Play a playlist|Start one of the user's playlists",
           [prm("pl", "playlist name playlist_name", "string", "Playlist name", P.pool(P.PLAYLISTS), core=True),
            prm("shuffle", "shuffle", "boolean", "Shuffle the tracks", None)],
           """
           Play my {pl} playlist
           Start the {pl} playlist
           Put on {pl}
           Play the playlist {pl}
           """, 1.0),
    intent("genre", "play_genre play_radio play_station",
           "Play a genre of music|Play a radio station for a genre",
           [prm("genre", "genre style station", "string", "Music genre", P.pool(P.GENRES), core=True)],
           """
           Play some {genre}
           Put on {genre}
           I'm in the mood for {genre}
           Play {genre} radio
           """, 0.7),
    intent("navigation", "get_directions navigate directions start_navigation route_to find_route",
           "Get driving or transit directions|Navigate to a destination|Get directions between two places",
           [prm("dest", "destination to end", "string", "Where to go|Destination address or place", P.pool(P.PLACES + P.CITIES), core=True),
            prm("origin", "origin from start", "string", "Starting point", P.pool(P.PLACES + P.CITIES)),
            prm("mode", "mode travel_mode transport", "enum:driving,walking,transit,cycling|string", "How to travel",
                P.enum_of(P.TRANSPORT, 0.0))],
           """
           Navigate to {dest}
           Directions to {dest}
           How do I get to {dest}?
           Take me to {dest}
           Get directions from {origin} to {dest}
           How do I get from {origin} to {dest} by {mode}?
           Show me the {mode} route to {dest}
           Route from {origin} to {dest}
           Give me {mode} directions to {dest}
           What's the fastest way to {dest}?
           """, DEMO),
    intent("search", "web_search search_web search google_search internet_search get_search search_online",
           "Search the web for information|Search the internet|Run a web search",
           [prm("q", "query q search_query terms", "string", "What to search for|Search terms", P.pool(P.TOPICS), core=True),
            prm("n", "num_results limit count", "integer", "Number of results", P.integer(1, 20))],
           """
           Search for {q}
           Search the web for {q}
           Look up {q}
           Google {q}
           Find information about {q}
           Search online for {q}
           Can you search {q}?
           Find me {n} results about {q}
           Look up {q} online
           I need info on {q}
           """, DEMO),
    # ---- other everyday tools -----------------------------------------------------------
    intent("call", "make_call call_contact phone_call call dial",
           "Call a contact|Place a phone call|Dial a number or contact",
           [prm("who", "contact name recipient number phone_number", "string", "Who to call|Name or number", P.person, core=True)],
           """
           Call {who}
           Phone {who}
           Give {who} a call
           Dial {who}
           Ring {who}
           Can you call {who} for me?
           """, 1.5),
    intent("call", "dial_number call_number",
           "Dial a phone number|Call a number",
           [prm("num", "number phone_number phone", "string", "The phone number", P.phone, core=True)],
           """
           Call {num}
           Dial {num}
           Ring {num} please
           """, 0.8),
    intent("note", "create_note add_note take_note save_note new_note",
           "Create a note|Save a note|Write down a note",
           [prm("text", "content text body note", "string", "Note text", P.pool(P.NOTES), core=True),
            prm("title", "title", "string", "Note title", P.pool(["Ideas", "Trip", "Work", "Home", "Groceries", "Passwords"]))],
           """
           Make a note: {text}
           Take a note: {text}
           Note down {text}
           Save a note titled {title}: {text}
           Write this down: {text}
           New note called {title} saying {text}
           """, 1.2),
    intent("list", "add_to_list add_item add_to_shopping_list add_grocery_item",
           "Add an item to a list|Add something to the shopping list",
           [prm("item", "item name product", "string", "Item to add", P.pool(P.ITEMS), core=True),
            prm("listname", "list list_name", "string", "Which list", P.pool(P.LISTS)),
            prm("qty", "quantity count amount", "integer", "How many", P.integer(1, 12))],
           """
           Add {item} to my shopping list
           Put {item} on the {listname} list
           Add {qty} {item} to the {listname} list
           We need {item}
           Add {item} to the list
           Put {qty} {item} on my list
           Don't let me forget {item} on the {listname} list
           """, 1.2),
    intent("list_multi", "add_items add_to_cart add_to_list",
           "Add several items to a list|Add items to the shopping cart",
           [prm("items", "items products", "array:string", "Items to add", P.items_list, core=True),
            prm("listname", "list list_name", "string", "Which list", P.pool(P.LISTS))],
           """
           Add {items} to my shopping list
           Put {items} on the {listname} list
           Add {items} to the cart
           """, 0.7),
    intent("translate", "translate_text translate translator translate_phrase",
           "Translate text between languages|Translate text into another language",
           [prm("text", "text phrase query", "string", "Text to translate", P.pool(P.PHRASES), core=True),
            prm("lang", "target_language to language target", "string", "Language to translate into", P.pool(P.LANGUAGES), core=True),
            prm("src", "source_language from", "string", "Language of the text", None)],
           """
           Translate '{text}' to {lang}
           How do you say {text} in {lang}?
           Translate "{text}" into {lang}
           What is {text} in {lang}?
           Say '{text}' in {lang}
           {lang} translation of "{text}"
           """, 1.5),
    intent("stock", "get_stock_price stock_price get_quote stock_quote",
           "Get current stock price for a ticker symbol|Look up a stock quote",
           [prm("sym", "symbol ticker stock", "string", "Ticker symbol, e.g. AAPL", P.pool(P.TICKERS), core=True)],
           """
           What's the stock price of {sym}?
           How is {sym} trading?
           Get me a quote for {sym}
           {sym} stock price
           What is {sym} at right now?
           Check {sym} shares
           """, 1.0),
    intent("currency", "convert_currency currency_converter exchange_money convert_money",
           "Convert currency|Convert an amount between currencies",
           [prm("amt", "amount value", "number", "Amount to convert", P.money, core=True),
            prm("from", "from_currency from source_currency", "string", "Currency to convert from", P.pool(P.CURRENCIES), core=True),
            prm("to", "to_currency to target_currency", "string", "Currency to convert to", P.pool(P.CURRENCIES), core=True)],
           """
           Convert {amt} {from} to {to}
           How much is {amt} {from} in {to}?
           What's {amt} {from} in {to}
           Change {amt} {from} into {to}
           {amt} {from} to {to}
           """, 1.0),
    intent("calc", "calculate calculator evaluate compute math",
           "Perform a mathematical calculation|Evaluate a math expression",
           [prm("expr", "expression expr formula", "string", "The expression", P.expression, core=True)],
           """
           Calculate {expr}
           What is {expr}?
           Compute {expr}
           Work out {expr}
           What's {expr}
           Solve {expr}
           """, 1.0),
    intent("time", "get_time current_time time world_clock get_local_time",
           "Get the current time in a city|What time it is somewhere",
           [prm("city", "city location timezone place", "string", "City or time zone", P.city, core=True)],
           """
           What time is it in {city}?
           Current time in {city}
           What's the time in {city} right now?
           Tell me the local time in {city}
           Time in {city}
           """, 1.2),
    intent("news", "get_news news latest_news get_headlines",
           "Get news articles|Get the latest headlines on a topic",
           [prm("topic", "topic category query", "string", "News topic", P.pool(P.NEWS_TOPICS), core=True),
            prm("count", "count limit num_articles", "integer", "How many articles", P.integer(1, 10))],
           """
           What's the latest news about {topic}?
           Show me {topic} news
           Give me {count} headlines about {topic}
           Any news on {topic}?
           Top {count} stories in {topic}
           Latest {topic} headlines
           """, 1.0),
    intent("flight", "book_flight search_flights find_flights flight_booking",
           "Book a flight ticket|Search for flights between two cities",
           [prm("from", "origin from departure_city", "string", "Departure city", P.city, core=True),
            prm("to", "destination to arrival_city", "string", "Arrival city", P.city, core=True),
            prm("date", "date departure_date", "string", "Departure date", P.day_date),
            prm("pax", "passengers travelers num_passengers", "integer", "Number of passengers", P.integer(1, 6)),
            prm("cabin", "cabin_class class", "string", "Cabin class", None)],
           """
           Book a flight from {from} to {to}
           Book a flight from {from} to {to} on {date}
           Find flights from {from} to {to} on {date} for {pax} people
           I need a flight to {to} from {from} on {date}
           Fly me from {from} to {to} on {date}
           {pax} tickets from {from} to {to}
           Search flights {from} to {to}
           """, 1.0),
    intent("hotel", "book_hotel find_hotel search_hotels reserve_hotel",
           "Book a hotel room|Search for hotels in a city",
           [prm("city", "city location destination", "string", "City", P.city, core=True),
            prm("checkin", "check_in check_in_date arrival", "string", "Check-in date", P.day_date),
            prm("nights", "nights num_nights", "integer", "Number of nights", P.integer(1, 14)),
            prm("guests", "guests num_guests", "integer", "Number of guests", P.integer(1, 6))],
           """
           Book a hotel in {city}
           Find me a hotel in {city} from {checkin} for {nights} nights
           I need a room in {city} for {guests} guests
           Reserve a hotel in {city} on {checkin}
           Hotel in {city} for {nights} nights, {guests} guests
           """, 1.0),
    intent("restaurant", "book_table reserve_table make_reservation restaurant_booking",
           "Reserve a table at a restaurant|Make a restaurant reservation",
           [prm("rest", "restaurant restaurant_name venue", "string", "Restaurant name", P.pool(P.RESTAURANTS), core=True),
            prm("size", "party_size people guests", "integer", "Number of people", P.integer(1, 12)),
            prm("time", "time", "string", "Reservation time", P.clock_time),
            prm("date", "date day", "string", "Reservation date", P.date)],
           """
           Book a table at {rest} for {size} at {time}
           Reserve a table for {size} at {rest} {date}
           Get me a reservation at {rest} {date} at {time}
           Table for {size} at {rest}, {time}
           Make a reservation at {rest}
           """, 1.0),
    intent("ride", "book_ride request_ride call_taxi order_ride get_uber",
           "Request a ride|Book a taxi to a destination",
           [prm("dest", "destination to dropoff", "string", "Where to go", P.pool(P.PLACES + P.CITIES), core=True),
            prm("pickup", "pickup from pickup_location", "string", "Pickup location", P.pool(P.PLACES)),
            prm("type", "ride_type type", "enum:standard,xl,premium|string", "Ride type", P.enum_of(["standard", "xl", "premium"], 0.0))],
           """
           Get me a ride to {dest}
           Book a taxi to {dest}
           Call a cab to {dest} from {pickup}
           Order a {type} ride to {dest}
           I need a car to {dest}
           Request a ride from {pickup} to {dest}
           """, 1.0),
    intent("food", "order_food food_delivery order_takeout place_order",
           "Order food for delivery|Order takeout from a restaurant",
           [prm("dish", "item dish food order", "string", "What to order", P.pool(P.DISHES), core=True),
            prm("rest", "restaurant from store", "string", "Restaurant", P.pool(P.RESTAURANTS)),
            prm("qty", "quantity count", "integer", "How many", P.integer(1, 6))],
           """
           Order {dish} from {rest}
           Order {qty} {dish}
           Get me {dish} delivered
           I want {qty} {dish} from {rest}
           Order some {dish}
           """, 1.0),
    intent("volume", "set_volume volume adjust_volume change_volume",
           "Set the speaker volume|Change the volume level",
           [prm("level", "level volume percent", "integer", "Volume 0-100", P.integer(0, 100), core=True)],
           """
           Set the volume to {level}
           Volume {level}
           Turn the volume to {level} percent
           Change the volume to {level}%
           Make it volume {level}
           """, 1.0),
    intent("wifi", "toggle_wifi set_wifi wifi",
           "Turn Wi-Fi on or off|Enable or disable Wi-Fi",
           [prm("on", "enabled state on", "boolean|enum:on,off", "Whether Wi-Fi is on", P.enable_disable, core=True)],
           """
           {on} wifi
           {on} the wifi
           Please {on} Wi-Fi
           Can you {on} the wifi?
           """, 0.7),
    intent("bluetooth", "toggle_bluetooth set_bluetooth bluetooth",
           "Turn Bluetooth on or off|Enable or disable Bluetooth",
           [prm("on", "enabled state on", "boolean|enum:on,off", "Whether Bluetooth is on", P.enable_disable, core=True)],
           """
           {on} bluetooth
           {on} the Bluetooth
           Please {on} bluetooth
           """, 0.6),
    intent("lock", "lock_door set_lock door_lock smart_lock",
           "Lock or unlock a door|Control the smart lock",
           [prm("door", "door name which", "string", "Which door", P.pool(P.DOORS), core=True),
            prm("act", "action state", "enum:lock,unlock", "lock or unlock", P.lock_unlock, core=True)],
           """
           {act} the {door} door
           Please {act} the {door} door
           Can you {act} the {door} door?
           {act} {door} door
           """, 1.0),
    intent("device", "turn_on_device control_device set_device_power switch_device",
           "Turn a smart device on or off|Control a smart plug device",
           [prm("dev", "device name device_name", "string", "Device name", P.pool(P.DEVICES), core=True),
            prm("state", "state power", "enum:on,off|boolean", "on or off", P.on_off, core=True)],
           """
           Turn {state} the {dev}
           Switch {state} the {dev}
           Turn the {dev} {state}
           {dev} {state}
           """, 1.0),
    intent("camera", "show_camera view_camera get_camera_feed",
           "Show a security camera feed|View a camera",
           [prm("cam", "camera name camera_name", "string", "Camera name", P.pool(P.CAMERAS), core=True)],
           """
           Show me the {cam} camera
           Show the {cam} camera feed
           What's happening at the {cam}? Show the camera
           Pull up the {cam} camera
           """, 0.7),
    intent("vacuum", "start_vacuum vacuum clean_room robot_vacuum",
           "Start the robot vacuum|Vacuum a room",
           [prm("room", "room area", "string", "Room to clean", P.pool(P.ROOMS))],
           """
           Vacuum the {room}
           Start the vacuum in the {room}
           Start vacuuming
           Clean the {room} with the robot
           Run the robot vacuum
           """, 0.7),
    intent("app", "open_app launch_app open_application start_app",
           "Open an app|Launch an application",
           [prm("app", "app_name app name application", "string", "App to open", P.pool(P.APPS), core=True)],
           """
           Open {app}
           Launch {app}
           Start {app}
           Open the {app} app
           Can you open {app}?
           """, 1.0),
    intent("screenshot", "take_screenshot screenshot capture_screen",
           "Take a screenshot of the current screen|Capture the screen",
           [],
           """
           Take a screenshot
           Screenshot please
           Capture my screen
           Grab a screenshot
           """, 0.7),
    intent("photo", "take_photo take_picture capture_photo",
           "Take a photo with the camera|Take a picture",
           [prm("cam", "camera", "enum:front,back", "Which camera", P.enum_of(["front", "back"], 0.0))],
           """
           Take a photo
           Take a picture
           Snap a photo with the {cam} camera
           Take a selfie with the {cam} camera
           """, 0.6),
    intent("battery", "get_battery_level battery_status check_battery",
           "Get the device battery level|Check the battery",
           [],
           """
           What's the battery level?
           How much battery do I have?
           Check my battery
           Battery status
           """, 0.6),
    intent("sysinfo", "get_system_info system_info device_info",
           "Get system information and metrics|Show device information",
           [],
           """
           Show me system information
           What are my system specs?
           Get system info
           """, 0.4),
    intent("cache", "clear_cache clear_app_cache",
           "Clear the application cache|Clear cached data",
           [],
           """
           Clear the cache
           Clear my app cache
           Wipe the cache
           """, 0.4),
    intent("restart", "restart_service restart_server restart",
           "Restart the background service|Restart the server",
           [prm("svc", "service name service_name", "string", "Service to restart",
                P.pool(["nginx", "postgres", "redis", "the api", "worker", "web", "mysql", "docker"]))],
           """
           Restart the service
           Restart {svc}
           Please restart the {svc} service
           """, 0.5),
    intent("pay", "send_money transfer_money pay make_payment send_payment",
           "Send money to a contact|Transfer money|Pay someone",
           [prm("to", "recipient to payee contact", "string", "Who to pay", P.person, core=True),
            prm("amt", "amount sum", "number", "How much", P.money, core=True),
            prm("cur", "currency", "string", "Currency", P.pool(["USD", "EUR", "GBP", "dollars", "euros", "pounds"])),
            prm("note", "note memo message", "string", "Payment note", P.pool(["rent", "dinner", "tickets", "lunch", "gas money", "the concert"]))],
           """
           Send {amt} {cur} to {to}
           Pay {to} {amt} {cur}
           Transfer {amt} to {to}
           Send {to} {amt} {cur} for {note}
           Pay {to} {amt} for {note}
           Venmo {to} {amt}
           """, 1.0),
    intent("task", "add_task create_task create_todo add_todo new_task",
           "Add a task to the to-do list|Create a to-do item",
           [prm("title", "title task name description", "string", "Task", P.pool(P.TASKS), core=True),
            prm("due", "due_date due date deadline", "string", "Due date", P.date),
            prm("prio", "priority", "enum:low,medium,high|string", "Priority", P.enum_of(P.PRIORITIES))],
           """
           Add a task to {title}
           Add {title} to my to-do list
           Create a {prio} priority task to {title}
           New todo: {title} by {due}
           Add a task to {title} due {due}
           Create a to-do to {title} due {due} with {prio} priority
           """, 1.0),
    intent("calendar_query", "list_events get_events check_calendar get_schedule get_calendar",
           "List calendar events for a day|Show the schedule for a date",
           [prm("date", "date day", "string", "Which day", P.date, core=True)],
           """
           What's on my calendar {date}?
           What do I have {date}?
           Show my schedule for {date}
           Am I free {date}?
           List my events for {date}
           """, 1.0),
    intent("delete_event", "delete_event cancel_event remove_event",
           "Delete a calendar event|Cancel an event",
           [prm("title", "title name event", "string", "Event title", P.pool(P.EVENT_TITLES), core=True),
            prm("date", "date", "string", "Date of the event", P.date)],
           """
           Cancel {title}
           Delete the {title} event
           Remove {title} from my calendar {date}
           Cancel my {title} on {date}
           """, 0.8),
    intent("workout", "log_workout track_workout record_exercise",
           "Log a workout|Record an exercise session",
           [prm("act", "activity type exercise", "string", "Activity", P.pool(P.WORKOUTS), core=True),
            prm("min", "duration_minutes minutes duration", "integer", "Minutes", P.integer(5, 180))],
           """
           Log a {min} minute {act} workout
           I did {act} for {min} minutes
           Record {min} minutes of {act}
           Log {act}
           Track my {act} session, {min} minutes
           """, 0.8),
    intent("podcast", "play_podcast podcast play_episode",
           "Play a podcast|Play the latest episode of a podcast",
           [prm("show", "podcast show name", "string", "Podcast name", P.pool(P.PODCASTS), core=True)],
           """
           Play the {show} podcast
           Play the latest episode of {show}
           Put on {show} podcast
           Resume the podcast {show}
           """, 0.8),
    intent("pause", "pause_music pause_playback stop_music",
           "Pause the music|Pause playback",
           [],
           """
           Pause the music
           Stop the music
           Pause
           Pause playback please
           """, 0.5),
    intent("skip", "skip_track next_song next_track",
           "Skip to the next track|Play the next song",
           [],
           """
           Skip this song
           Next track
           Play the next song
           Skip
           """, 0.5),
    intent("recipe", "find_recipe search_recipes get_recipe recipe_search",
           "Find a recipe|Search recipes by ingredient or dish",
           [prm("q", "query dish ingredient ingredients", "string", "Dish or ingredient", P.pool(P.DISHES + P.INGREDIENTS), core=True),
            prm("cuisine", "cuisine", "string", "Cuisine", P.pool(P.CUISINES))],
           """
           Find a recipe for {q}
           How do I make {q}? Find a recipe
           Recipes with {q}
           Give me a {cuisine} recipe with {q}
           Find me a {cuisine} {q} recipe
           """, 0.9),
    intent("movies", "get_showtimes find_movie_showtimes movie_times",
           "Get movie showtimes|Find when a movie is playing",
           [prm("movie", "movie title film", "string", "Movie title", P.pool(P.MOVIES), core=True),
            prm("city", "city location", "string", "City", P.city),
            prm("date", "date", "string", "Day", P.date)],
           """
           When is {movie} playing?
           Showtimes for {movie} in {city}
           Find {movie} showtimes {date}
           Is {movie} showing in {city} {date}?
           """, 0.8),
    intent("score", "get_score sports_scores get_game_score",
           "Get the latest score for a team|Sports scores",
           [prm("team", "team team_name", "string", "Team", P.pool(P.TEAMS), core=True)],
           """
           What's the {team} score?
           Did the {team} win?
           How did {team} do last night?
           Latest score for {team}
           """, 0.8),
    intent("package", "track_package track_order package_status",
           "Track a package|Get the delivery status of a package",
           [prm("trk", "tracking_number tracking_id number", "string", "Tracking number", P.tracking, core=True)],
           """
           Track package {trk}
           Where is my package {trk}?
           Status of tracking number {trk}
           Track {trk}
           """, 0.8),
    intent("order_status", "get_order_status check_order order_status",
           "Check an order's status|Look up an order",
           [prm("oid", "order_id id order_number", "string", "Order ID", P.order_id, core=True)],
           """
           What's the status of order {oid}?
           Check order {oid}
           Where is order {oid}?
           Look up my order {oid}
           """, 0.6),
    intent("define", "define_word get_definition dictionary lookup_word",
           "Get the definition of a word|Look up a word in the dictionary",
           [prm("word", "word term", "string", "The word", P.pool(P.WORDS_TO_DEFINE), core=True)],
           """
           Define {word}
           What does {word} mean?
           Look up the word {word}
           Definition of {word}
           """, 0.8),
    intent("wiki", "search_wikipedia wikipedia wiki_lookup",
           "Search Wikipedia|Look up an article on Wikipedia",
           [prm("q", "query topic title", "string", "Article to find", P.pool(P.TOPICS + P.CITIES), core=True)],
           """
           Look up {q} on Wikipedia
           Wikipedia {q}
           Search Wikipedia for {q}
           What does Wikipedia say about {q}?
           """, 0.6),
    intent("share_location", "share_location send_location",
           "Share the current location with a contact|Send my location",
           [prm("to", "contact recipient to", "string", "Who to share with", P.person, core=True),
            prm("dur", "duration", "string", "For how long", P.pool(["1 hour", "30 minutes", "2 hours", "the rest of the day"]))],
           """
           Share my location with {to}
           Send {to} my location
           Share my location with {to} for {dur}
           Let {to} see where I am
           """, 0.7),
    intent("tv", "set_tv_channel change_channel tv_channel",
           "Change the TV channel|Switch to a channel",
           [prm("ch", "channel number", "integer", "Channel number", P.integer(1, 999), core=True)],
           """
           Change the channel to {ch}
           Put the TV on channel {ch}
           Switch to channel {ch}
           Channel {ch}
           """, 0.6),
    intent("brightness", "set_brightness screen_brightness adjust_brightness",
           "Set the screen brightness|Change display brightness",
           [prm("level", "level brightness percent", "integer", "Brightness 0-100", P.integer(0, 100), core=True)],
           """
           Set the brightness to {level}
           Screen brightness {level} percent
           Make the screen {level}% bright
           Brightness {level}
           """, 0.7),
    intent("dnd", "set_do_not_disturb do_not_disturb toggle_dnd",
           "Turn do not disturb on or off|Silence notifications",
           [prm("on", "enabled state on", "boolean|enum:on,off", "On or off", P.enable_disable, core=True),
            prm("until", "until end_time", "string", "Until when", P.clock_time)],
           """
           {on} do not disturb
           {on} do not disturb until {until}
           Please {on} DND
           """, 0.6),
    # ---- developer / account tools (the fixture's kind) ----------------------------------
    intent("read_file", "read_file open_file get_file_contents cat_file",
           "Read a file from disk|Read the contents of a file",
           [prm("path", "path file_path filename", "string", "Path of the file", P.pool(P.FILES), core=True)],
           """
           Read the file {path}
           Show me what's in {path}
           Open {path}
           Read {path}
           What does {path} contain?
           """, 0.8),
    intent("write_file", "write_file save_file write_to_file",
           "Write to a file|Save text to a file",
           [prm("path", "path file_path filename", "string", "Path of the file", P.pool(P.FILES), core=True),
            prm("content", "content text data", "string", "What to write", P.pool(P.NOTES + P.MESSAGES), core=True)],
           """
           Write "{content}" to {path}
           Save '{content}' in {path}
           Put {content} into the file {path}
           """, 0.6),
    intent("delete_file", "delete_file remove_file rm",
           "Delete a file|Remove a file from disk",
           [prm("path", "path file_path filename", "string", "Path of the file", P.pool(P.FILES), core=True)],
           """
           Delete {path}
           Remove the file {path}
           Delete the file {path}
           Get rid of {path}
           """, 0.6),
    intent("list_files", "list_files list_directory ls",
           "List files in a directory|Show the contents of a folder",
           [prm("dir", "directory path folder", "string", "Directory", P.pool(P.DIRS), core=True)],
           """
           List the files in {dir}
           What's in {dir}?
           Show the contents of {dir}
           ls {dir}
           """, 0.6),
    intent("user", "get_user get_profile lookup_user find_user",
           "Get user by ID|Retrieve a user profile",
           [prm("uid", "user_id username user", "string", "The user's id or handle", P.username, core=True)],
           """
           Get the profile for user {uid}
           Look up user {uid}
           Show me {uid}'s profile
           Find the user {uid}
           """, 0.6),
    intent("create_user", "create_user add_user register_user new_user",
           "Create a new user|Register an account",
           [prm("name", "name full_name", "string", "Full name", P.person, core=True),
            prm("email", "email email_address", "string", "Email address", P.email_address)],
           """
           Create a user named {name} with email {email}
           Add a new user {name}
           Register {name} as a user, email {email}
           Sign up {name} with {email}
           """, 0.6),
    intent("country_info", "get_country_info country_info lookup_country",
           "Get facts about a country|Look up a country",
           [prm("country", "country name", "string", "Country", P.country, core=True)],
           """
           Tell me about {country}
           What's the capital of {country}?
           Give me facts about {country}
           Country info for {country}
           """, 0.6),
]


def _check(intents: list[Intent]) -> None:
    for it in intents:
        keys = [p.slot for p in it.params]
        assert len(set(keys)) == len(keys), f"{it.names[0]}: duplicate slots"
        it.slots = {p.slot for p in it.params if p.gen is not None}
        for t in it.templates:
            used = set(re.findall(r"\{(\w+)\}", t))
            assert used <= it.slots, f"{it.names[0]}: template {t!r} uses unknown slots {used - it.slots}"
            for p in it.params:
                if p.core:
                    assert p.slot in used, f"{it.names[0]}: core slot {p.slot} missing from {t!r}"
        for p in it.params:
            if p.gen is not None:
                assert any("{" + p.slot + "}" in t for t in it.templates), f"{it.names[0]}: slot {p.slot} never used"


_check(INTENTS)
