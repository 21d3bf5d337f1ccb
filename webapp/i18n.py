"""Every text a visitor reads, in English and Russian, and how a handler picks the visitor's language.

Static texts (labels, tabs, buttons) go to the page through `I18N` (gr.I18n), which the browser resolves
from its own language. Texts a handler makes (hints, status lines, errors, results) are chosen on the
server with `text(lang_of(request), key, **values)`, from the request's Accept-Language header.
English is the fallback for both. To add a text: one line in STRINGS, then `I18N(key)` in the layout
or `text(lang, key, ...)` in a handler. API values (class names "0".."9", plot columns) stay as they are."""
from __future__ import annotations

import gradio as gr

LANGS = ("en", "ru")
FALLBACK = "en"

STRINGS: dict[str, tuple[str, str]] = {
    # Layout: resolved in the browser (I18N)
    "intro": ("# Handwritten digit recognizer\nDraw a digit and a small neural network (an MLP trained on MNIST "
              "and real pen-drawn digits) reads it as you draw. In the Train tab, train your own and watch it "
              "learn.",
              "# Распознавание рукописных цифр\nНарисуйте цифру, и небольшая нейросеть (MLP, обученная на MNIST "
              "и настоящих цифрах, написанных пером) прочтёт её прямо во время рисования. Во вкладке «Обучение» "
              "можно обучить свою сеть и посмотреть, как она учится."),
    "tab.draw": ("Draw", "Рисовать"),
    "tab.train": ("Train", "Обучение"),
    "pad": ("Draw one digit here", "Нарисуйте здесь одну цифру"),
    "predict": ("Predict", "Распознать"),
    "picker": ("Model (test accuracy on MNIST's 10,000 test digits)",
               "Модель (точность на 10 000 тестовых цифрах MNIST)"),
    "prediction": ("Prediction", "Ответ"),
    "hint": ("Hint", "Подсказка"),
    "probabilities": ("Probability of each digit", "Вероятность каждой цифры"),
    "seen": ("What the model saw: 28 x 28 pixels, white on black",
             "Что видит модель: 28 x 28 пикселей, белым по чёрному"),
    "train.off": ("**Training is switched off on this server.** Drawing and predicting still work.",
                  "**Обучение на этом сервере отключено.** Рисовать и распознавать можно."),
    "train.intro": ("Train a new network on MNIST with your settings. Runs are saved beside the shipped model, "
                    "which is never overwritten. One run trains at a time on this server.",
                    "Обучите новую сеть на MNIST со своими настройками. Результаты сохраняются рядом со встроенной "
                    "моделью, она не перезаписывается. На сервере одновременно идёт только одно обучение."),
    "train.space": ("**On this Space only the shipped model persists:** runs trained here are kept on the Space's "
                    "disk and vanish when it restarts.",
                    "**В этом Space сохраняется только встроенная модель:** обученные здесь модели лежат на диске "
                    "Space и пропадают при его перезапуске."),
    "epochs": ("Epochs (passes over the 55,000 training digits)", "Эпохи (проходы по 55 000 обучающих цифр)"),
    "batch_size": ("Batch size (digits per step)", "Размер батча (цифр за шаг)"),
    "lr": ("Learning rate (initial)", "Скорость обучения (начальная)"),
    "seed": ("Seed (same seed, same result)", "Seed (тот же seed, тот же результат)"),
    "lr_factor": ("LR factor (applied when valid loss stalls)",
                  "Множитель скорости (когда валидационная ошибка перестаёт падать)"),
    "lr_patience": ("LR patience (epochs without improvement)", "Терпение (эпох без улучшения)"),
    "augment": ("Augment (random rotation, slant, size, stroke width)",
                "Аугментация (случайный поворот, наклон, размер, толщина линии)"),
    "train": ("Train", "Обучить"),
    "stop": ("Stop", "Стоп"),
    "status": ("Status", "Состояние"),
    "progress": ("Progress", "Ход обучения"),
    "no_run": ("No run yet.", "Обучение ещё не запускалось."),
    "plot.train": ("Train loss", "Ошибка на обучении"),
    "plot.valid": ("Valid loss", "Ошибка на валидации"),
    "plot.lr": ("Learning rate", "Скорость обучения"),
    "result": ("Result", "Результат"),
    "use": ("Use this model in Draw", "Рисовать с этой моделью"),
    "feedback.right": ("✓ Right", "✓ Верно"),
    "feedback.include.tab": ("Include the corrected drawings", "Добавить исправленные рисунки"),
    "feedback.wrong": ("Wrong? It was:", "Ошибка? Это была:"),
    "feedback.note": ("Nothing is kept unless you click: a click saves this drawing (no name, no account) with the "
                      "digit you chose and the app's answer, so that the next models learn from handwriting like "
                      "yours.",
                      "Без вашего нажатия ничего не сохраняется: нажатие сохраняет этот рисунок (без имени и учётной "
                      "записи) с выбранной вами цифрой и ответом приложения, чтобы следующие модели учились на "
                      "таком почерке, как ваш."),
    "probe.plot": ("Your drawing", "Ваш рисунок"),
    "probe.readings": ("Readings per epoch", "Ответы по эпохам"),
    "weights": ("What the first layer learned: each unit's weights (red: ink here excites the unit, blue: "
                "inhibits)",
                "Чему научился первый слой: веса каждого нейрона (красный: чернила здесь возбуждают нейрон, "
                "синий: тормозят)"),
    "confusion": ("Confusion matrix on MNIST's 10,000 test digits", "Матрица ошибок на 10 000 тестовых цифрах MNIST"),
    "misread": ("Test digits it misreads most confidently (when the run ends)",
                "Тестовые цифры, в которых сеть увереннее всего ошибается (после обучения)"),
    "details": ("Run details (for API callers)", "Данные обучения (для API)"),
    "probe.none": ("Draw a digit in the Draw tab before pressing Train to watch this network learn to read it.",
                   "Нарисуйте цифру во вкладке «Рисовать» перед обучением и смотрите, как сеть учится её читать."),
    # Made by handlers: resolved on the server (text)
    "title.train": ("Train loss (batches, averaged in groups)", "Ошибка на обучении (батчи, усреднённые группами)"),
    "title.valid": ("Valid loss per epoch", "Ошибка на валидации по эпохам"),
    "title.lr": ("Learning rate per epoch", "Скорость обучения по эпохам"),
    "axis.epoch": ("epoch", "эпоха"),
    "axis.loss": ("loss", "ошибка"),
    "axis.lr": ("learning rate", "скорость"),
    "feedback.include": ("Include the corrected drawings ({n:,})", "Добавить исправленные рисунки ({n:,})"),
    "feedback.kept": ("Saved as {label}. Thank you: corrected drawings train the next models.",
                      "Сохранено как {label}. Спасибо: исправленные рисунки обучают следующие модели."),
    "feedback.empty": ("Nothing to save: the canvas is empty. Draw a digit first.",
                       "Нечего сохранять: холст пуст. Сначала нарисуйте цифру."),
    "feedback.label": ("The label must be one digit, 0 to 9; got {label!r}.",
                       "Метка должна быть одной цифрой от 0 до 9, получено {label!r}."),
    "feedback.rate": ("That is {limit} drawings in a minute from you; wait a moment and try again.",
                      "Это уже {limit} рисунков от вас за минуту; подождите немного и попробуйте снова."),
    "feedback.full": ("This server's collection of drawings is full; nothing was saved. Thank you all the same.",
                      "Собрание рисунков на этом сервере заполнено; ничего не сохранено. Всё равно спасибо."),
    "feedback.off": ("This server does not keep drawings.", "Этот сервер не сохраняет рисунки."),
    "probe.title": ("Your drawing, as the network reads it", "Ваш рисунок глазами сети"),
    "probe.axis": ("probability", "вероятность"),
    "axis.digit": ("digit", "цифра"),
    "probe.waiting": ("Your drawing will be read by the network after each epoch.",
                      "Сеть будет читать ваш рисунок после каждой эпохи."),
    "probe.line": ("Your drawing, read after each epoch: {readings}", "Ваш рисунок после каждой эпохи: {readings}"),
    "probe.unreadable": ("The drawing to follow during training could not be read: {detail}",
                         "Не удалось прочитать рисунок, за которым следить при обучении: {detail}"),
    "confusion.predicted": ("predicted", "ответ сети"),
    "confusion.true": ("true digit", "верная цифра"),
    "confusion.title": ("Test digits: {right:,} of {total:,} right", "Тестовые цифры: верно {right:,} из {total:,}"),
    "confusion.digits": ("digits", "цифр"),
    "misread.caption": ("a {label}, read as {predicted} ({p:.0%})", "{label}, прочитана как {predicted} ({p:.0%})"),
    "digit.empty": ("draw a digit", "нарисуйте цифру"),
    "digit.sure": ("{p:.0%} sure", "уверенность {p:.0%}"),
    "hint.empty": ("The canvas is empty: draw one digit, 0 to 9, large and centred. The answer updates after "
                   "each stroke.",
                   "Холст пуст: нарисуйте одну цифру от 0 до 9, крупно и по центру. Ответ обновляется после "
                   "каждого штриха."),
    "hint.unsure": ("**Not sure**: {a} ({pa:.0%}) or {b} ({pb:.0%})? Try one clear shape, drawn large.",
                    "**Сомневаюсь**: {a} ({pa:.0%}) или {b} ({pb:.0%})? Нарисуйте одну чёткую крупную цифру."),
    "model.kept": ("{detail}. Still using the previous model.", "{detail}. Модель не сменилась."),
    "model.shipped": ("shipped model", "встроенная модель"),
    "model.epoch1": ("1 epoch", "эпох: 1"),
    "model.epochs": ("{n} epochs", "эпох: {n}"),
    "model.stopped": (" (stopped)", " (остановлено)"),
    "model.test": ("test {acc:.2%}", "тест {acc:.2%}"),
    "model.unknown": ("test accuracy unknown", "точность неизвестна"),
    "phase.loading": ("loading MNIST", "загрузка MNIST"),
    "phase.feedback": ("reading the corrected drawings", "чтение исправленных рисунков"),
    "phase.training": ("training", "обучение"),
    "phase.stopping": ("stopping: testing and saving the best weights so far",
                       "остановка: проверка и сохранение лучших весов"),
    "phase.stopped": ("stopped", "остановлено"),
    "phase.finished": ("finished", "готово"),
    "phase.limit": ("{phase} (this server's limit of {seconds:g} s per run)",
                    "{phase} (предел сервера: {seconds:g} с на обучение)"),
    "status.epoch": ("epoch {epoch} of {epochs}", "эпоха {epoch} из {epochs}"),
    "status.valid": ("valid accuracy {acc:.2%}", "точность на валидации {acc:.2%}"),
    "status.seconds": ("{s:.0f} s", "{s:.0f} с"),
    "stop.sent": ("Stopping: testing and saving the best weights so far.",
                  "Останавливаем: проверяем и сохраняем лучшие веса."),
    "stop.none": ("You have no training run in progress to stop.", "У вас нет идущего обучения."),
    "result.saved": ("### Test accuracy {acc:.2%}\n{early}Saved as `{key}`: pick it in the Draw tab, or press "
                     "the button below.",
                     "### Точность на тесте {acc:.2%}\n{early}Сохранено как `{key}`: выберите её во вкладке "
                     "«Рисовать» или нажмите кнопку ниже."),
    "result.early": ("Stopped early; the best weights so far were kept.  \n",
                     "Остановлено досрочно; сохранены лучшие веса.  \n"),
    "result.none": ("### No model saved\n{detail}.", "### Модель не сохранена\n{detail}."),
    "err.training_off": ("Training is switched off on this server (ALLOW_TRAINING=0); drawing still works.",
                         "Обучение на этом сервере отключено (ALLOW_TRAINING=0); рисовать можно."),
    "err.busy": ("A training run is in progress ({status}). This server trains one model at a time; try again "
                 "when it ends. Drawing and predicting keep working meanwhile.",
                 "Сейчас идёт обучение ({status}). Сервер обучает одну модель за раз; попробуйте, когда оно "
                 "закончится. Рисовать и распознавать можно и сейчас."),
    # Errors from the libraries, whose own message is kept as the detail
    "lib.ImageError": ("{detail}", "Рисунок не читается: {detail}"),
    "lib.CheckpointError": ("{detail}", "Модель не загружается: {detail}"),
    "lib.ValueError": ("{detail}", "Неверная настройка: {detail}"),
    "lib.TypeError": ("{detail}", "Неверная настройка: {detail}"),
    "lib.TrainingDied": ("{detail}", "Обучение прервалось: {detail}"),
    "lib.OverServerLimit": ("{detail}", "Сервер не возьмётся за это обучение: {detail}"),
    "lib.DataError": ("{detail}", "MNIST недоступен: {detail}"),
    # Experiments: the network's shape, runs compared, settings in the link
    "hidden": ("Hidden layers (units in each, input side first: 200, 150, 100, 80)",
               "Скрытые слои (нейронов в каждом, от входа: 200, 150, 100, 80)"),
    "activation": ("Activation", "Функция активации"),
    "optimizer": ("Optimiser (SGD with momentum 0.9)", "Оптимизатор (SGD с моментом 0.9)"),
    "compare.heading": ("### Your runs\nEvery run you train here is drawn in the plots above beside the current "
                        "one (grey: the shipped model's own training). Untick a run to hide it.",
                        "### Ваши обучения\nКаждое обучение здесь рисуется на графиках выше рядом с текущим "
                        "(серым: обучение встроенной модели). Снимите отметку, чтобы скрыть обучение."),
    "compare.table": ("Runs", "Обучения"),
    "compare.shown": ("Shown in the plots", "На графиках"),
    "compare.pick": ("Run", "Обучение"),
    "compare.use": ("Use in Draw", "Рисовать с этой моделью"),
    "compare.remove": ("Remove from the comparison", "Убрать из сравнения"),
    "compare.link": ("Copy a link to these settings", "Скопировать ссылку на эти настройки"),
    "compare.link.box": ("A link that opens this tab with these settings",
                         "Ссылка, открывающая эту вкладку с этими настройками"),
    "compare.shipped": ("shipped model", "встроенная модель"),
    "axis.run": ("run", "обучение"),
    "compare.defaults": ("the tab's defaults", "настройки по умолчанию"),
    "compare.stopped": ("stopped", "остановлено"),
    "compare.finished": ("finished", "завершено"),
    "compare.yes": ("yes", "да"),
    "compare.no": ("no", "нет"),
    "compare.col.run": ("run", "обучение"),
    "compare.col.settings": ("settings (changed)", "настройки (изменённые)"),
    "compare.col.valid": ("best valid acc", "лучшая точность (валидация)"),
    "compare.col.test": ("test acc", "точность (тест)"),
    "compare.col.time": ("time", "время"),
    "compare.col.ended": ("ended", "итог"),
    "compare.col.shown": ("shown", "на графиках"),
    "compare.none": ("Pick a run from the list first.", "Сначала выберите обучение в списке."),
    "compare.no_model": ("Run {run} saved no model.", "Обучение {run} не сохранило модель."),
    "link.bad": ("This link's settings were not applied: {detail}",
                 "Настройки из ссылки не применены: {detail}"),
}

I18N = gr.I18n(**{lang: {key: pair[i] for key, pair in STRINGS.items()} for i, lang in enumerate(LANGS)})


def lang_of(request: gr.Request | None) -> str:
    """The visitor's language from the Accept-Language header ("ru-RU,ru;q=0.9,en;q=0.8"): the supported
    language ranked highest, else FALLBACK. API clients that send no header get FALLBACK."""
    header = request.headers.get("accept-language", "") if request is not None else ""
    ranked = []
    for order, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((-q, order, tag.split("-")[0].lower()))
    return next((lang for _, _, lang in sorted(ranked) if lang in LANGS), FALLBACK)


def text(lang: str, key: str, /, **values) -> str:
    """STRINGS[key] in `lang` (FALLBACK for a language without texts), formatted with `values`."""
    pair = STRINGS[key]
    return pair[LANGS.index(lang) if lang in LANGS else 0].format(**values)


def error_text(lang: str, error: Exception) -> str:
    """A library's error for a visitor: its message, led by a sentence in `lang` where one is written."""
    key = f"lib.{type(error).__name__}"
    return text(lang, key, detail=error) if key in STRINGS else str(error)
