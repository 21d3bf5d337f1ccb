"""Every text a visitor reads, in English and Russian, and how a handler picks the visitor's language.

Static texts (labels, tabs, buttons) go to the page through `I18N` (gr.I18n), which the browser resolves
from its own language. Texts a handler makes (hints, status lines, errors, results) are chosen on the
server with `text(lang_of(request), key, **values)`, from the request's Accept-Language header.
English is the fallback for both. To add a text: one line in STRINGS, then `I18N(key)` in the layout
or `text(lang, key, ...)` in a handler. API values (class names "0".."9", plot columns) stay as they are."""
from __future__ import annotations

from contextvars import ContextVar

import gradio as gr

from train.config import RULES, SettingError

LANGS = ("en", "ru")
FALLBACK = "en"

STRINGS: dict[str, tuple[str, str]] = {
    # Layout: resolved in the browser (I18N)
    "intro": ("# Handwritten digit recognizer\nDraw a digit and a small neural network (an MLP trained on MNIST "
              "and real pen-drawn digits) reads it after each stroke. In the Train tab, train your own and watch "
              "it learn.",
              "# Распознавание рукописных цифр\nНарисуйте цифру, и небольшая нейросеть (MLP, обученная на MNIST "
              "и настоящих цифрах, написанных пером) прочтёт её после каждого штриха. Во вкладке «Обучение» "
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
    "seed": ("Seed (same seed, same result)", "Зерно случайности (то же зерно, тот же результат)"),
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
    "feedback.label": ("The label must be one digit, 0 to 9; got {label}.",
                       "Метка должна быть одной цифрой от 0 до 9, получено {label}."),
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
    "misread.caption": ("{article} {label}, read as {predicted} ({p:.0%})", "{label}, прочитана как {predicted} ({p:.0%})"),
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
    "phase.preparing": ("preparing: starting the training process and drawing the style copies",
                        "подготовка: запуск процесса обучения и рисование копий со штрихами"),
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
    # A bad setting (train.config.SettingError), by the rule it breaks: the English is train.config's own.
    "setting.whole": (RULES["whole"], "{name}: нужно целое число, получено {value}"),
    "setting.finite": (RULES["finite"], "{name}: нужно конечное число, получено {value}"),
    "setting.bool": (RULES["bool"], "{name}: нужно true или false, получено {value}"),
    "setting.range": (RULES["range"], "{name}: нужно от {lo} до {hi}, получено {value}"),
    "setting.choice": (RULES["choice"], "{name}: нужно одно из: {choices}; получено {value}"),
    "setting.layers": (RULES["layers"], "{name}: нужен кортеж целых чисел (нейронов в каждом слое), получено {value}"),
    "setting.units": (RULES["units"], "{name}: нужны целые числа нейронов, по одному на слой, например "
                                      "200,150,100,80; получено {value}"),
    "setting.unknown": (RULES["unknown"], "Неизвестная настройка {value}; настройки: {choices}"),
    "setting.parameters": ("parameters", "Число весов сети"),
    "setting.layers_count": ("layers", "Число слоёв"),
    # A sketch refused before any handler runs (webapp.guards.sketchpad)
    "sketch.layers": ("The drawing has {n} layers; this server reads up to {most}.",
                      "В рисунке {n} слоёв; сервер читает не больше {most}."),
    "sketch.pixels": ("The image is {width} x {height} pixels; this server reads drawings of up to {mp:.1f} "
                      "megapixels and {side:,} pixels a side. Send a smaller image.",
                      "Изображение {width} x {height} пикселей; сервер читает рисунки до {mp:.1f} мегапикселей "
                      "и до {side:,} пикселей по стороне. Пришлите изображение поменьше."),
    "sketch.total": ("The drawing's images have {mp:.1f} megapixels in all; this server reads up to {most:.1f} "
                     "per drawing. Send fewer or smaller images.",
                     "В изображениях рисунка всего {mp:.1f} мегапикселей; сервер читает до {most:.1f} на рисунок. "
                     "Пришлите меньше изображений или поменьше."),
    "sketch.unreadable": ("The drawing could not be read as an image ({detail}). Draw on the pad, or send a PNG, "
                          "JPEG, WebP, GIF or BMP file.",
                          "Рисунок не читается как изображение ({detail}). Нарисуйте цифру на холсте или "
                          "пришлите файл PNG, JPEG, WebP, GIF или BMP."),
    "sketch.url": ("This server reads drawings uploaded to it, not fetched from a URL. Draw on the pad, or send "
                   "a PNG, JPEG, WebP, GIF or BMP file.",
                   "Сервер читает загруженные на него рисунки и не скачивает их по ссылке. Нарисуйте цифру на "
                   "холсте или пришлите файл PNG, JPEG, WebP, GIF или BMP."),
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
    # Your handwriting: a personal model learned from the visitor's own corrections (webapp.draw.personal)
    "personal.forget": ("Forget my handwriting", "Забыть мой почерк"),
    "personal.read_by": ("Who read the drawing", "Кто прочёл рисунок"),
    "personal.note": ("Your corrections and ✓ also teach this page a model of your own handwriting, at once; it "
                      "lives only while the page is open.",
                      "Ваши исправления и ✓ сразу учат модель вашего почерка; она живёт, только пока открыта "
                      "страница."),
    "personal.reading": ("Read by **your model**, learned from your drawings ({n}).",
                         "Читает **ваша модель**, выученная на ваших рисунках ({n})."),
    "personal.both": ("your model: **{mine}** · {model}: {theirs}", "ваша модель: **{mine}** · {model}: {theirs}"),
    "personal.learned": ("Your model now reads your next drawings, learned from {n} of them.",
                         "Теперь ваши рисунки читает ваша модель, выученная на них ({n})."),
    "personal.failed": ("Your model could not be learned ({detail}); {model} reads your drawings.",
                        "Вашу модель выучить не удалось ({detail}); рисунки читает {model}."),
    "personal.forgotten": ("Forgotten: {model} reads your drawings again.",
                           "Забыто: ваши рисунки снова читает {model}."),
    # Look inside: every layer, the strokes that mattered, a unit's arithmetic, the nearest training digits
    "inside": ("Look inside: what the network does with your drawing",
               "Заглянуть внутрь: что сеть делает с вашим рисунком"),
    "inside.about": ("The network is layers of small calculators called units. Each unit adds up the numbers "
                     "coming from the layer before, each multiplied by its own weight, adds its bias, and passes "
                     "the result through its activation (in the shipped model ReLU: a negative result becomes 0). "
                     "Your drawing's 784 pixels go in at the top; ten probabilities, one per digit, come out at "
                     "the bottom.",
                     "Сеть состоит из слоёв маленьких вычислителей — нейронов. Каждый нейрон складывает числа "
                     "из предыдущего слоя, умножив каждое на свой вес, прибавляет своё смещение и пропускает "
                     "результат через функцию активации (во встроенной модели ReLU: отрицательное становится 0). "
                     "Сверху входят 784 пикселя вашего рисунка, снизу выходят десять вероятностей, по одной "
                     "на цифру."),
    "inside.layers": ("Every layer for this drawing: tap a square to choose that unit",
                      "Все слои для этого рисунка: нажмите на квадрат, чтобы выбрать нейрон"),
    "inside.layers.about": ("Each square is one unit. From the top: hidden layers 1 to 4, then the 10 outputs, "
                            "for the digits 0 to 9 from left to right. Bright orange: the unit fires strongly for "
                            "your drawing; dark: it stays at 0 (blue: below 0). The outputs glow green by "
                            "probability.",
                            "Каждый квадрат — один нейрон. Сверху вниз: скрытые слои с 1-го по 4-й, затем 10 "
                            "выходов, для цифр от 0 до 9 слева направо. Ярко-оранжевый: нейрон сильно реагирует "
                            "на ваш рисунок; тёмный: остаётся на 0 (синий: ниже 0). Выходы светятся зелёным по "
                            "вероятности."),
    "inside.why": ("Why {digit}: red ink argued for {digit}, blue ink against it",
                   "Почему {digit}: красные штрихи говорили за {digit}, синие — против"),
    "inside.why_not": ("Why {digit} and not {other}: red ink argued for {other}, blue ink against it",
                       "Почему {digit}, а не {other}: красные штрихи говорили за {other}, синие — против"),
    "inside.versus": ("Also show the runner-up (the second most likely digit)",
                      "Показать и второй по вероятности ответ"),
    "inside.saliency.about": ("Each pixel's colour says how much its ink pushed the answer up (red) or down "
                              "(blue). Rubbing out the reddest ink changes the network's mind the most.",
                              "Цвет пикселя показывает, насколько его штрих поднимал ответ (красный) или "
                              "опускал (синий). Если стереть самые красные штрихи, сеть передумает сильнее всего."),
    "inside.neighbours": ("The 8 training digits it finds most like yours",
                          "8 учебных цифр, на которые ваша, по мнению сети, похожа больше всего"),
    "inside.neighbours.about": ("Out of the 55,000 digits the network learned from, these give the most similar "
                                "numbers in its last hidden layer; under each, the digit its writer meant.",
                                "Из 55 000 цифр, на которых сеть училась, эти дают самые похожие числа в её "
                                "последнем скрытом слое; под каждой — цифра, которую имел в виду её автор."),
    "inside.neighbours.none": ("The similar training digits are not available: this server cannot read MNIST.",
                               "Похожие учебные цифры недоступны: этот сервер не может прочитать MNIST."),
    "inside.layer": ("Layer", "Слой"),
    "inside.unit": ("Unit number", "Номер нейрона"),
    "inside.layer.hidden": ("Layer {n} ({units} units)", "Слой {n} ({units} нейронов)"),
    "inside.layer.output": ("Output (10 digits)", "Выход (10 цифр)"),
    "inside.unit.hidden": ("Layer {layer}, unit {unit}", "Слой {layer}, нейрон {unit}"),
    "inside.unit.output": ("Output for the digit {digit}", "Выход для цифры {digit}"),
    "inside.weights": ("Its weights: ink on red pixels excites this unit, ink on blue ones calms it",
                       "Его веса: штрих на красных пикселях возбуждает нейрон, на синих — успокаивает"),
    "inside.product": ("Weights x your drawing: what your ink adds (red) or takes away (blue)",
                       "Веса x ваш рисунок: что ваши штрихи прибавляют (красный) или отнимают (синий)"),
    "inside.math.first": ("ink x weight, added up over the 784 pixels: {sum:+.2f}; plus bias {bias:+.2f} "
                          "(blank paper's share included) = {z:+.2f}; {act}: <b>{value:.2f}</b>",
                          "штрих x вес, сложено по 784 пикселям: {sum:+.2f}; плюс смещение {bias:+.2f} "
                          "(с долей чистой бумаги) = {z:+.2f}; {act}: <b>{value:.2f}</b>"),
    "inside.math": ("input x weight, added up: {sum:+.2f}; plus bias {bias:+.2f} = {z:+.2f}; {act}: <b>{value:.2f}</b>",
                    "вход x вес, сложено: {sum:+.2f}; плюс смещение {bias:+.2f} = {z:+.2f}; {act}: <b>{value:.2f}</b>"),
    "inside.act.relu": ("ReLU (a negative becomes 0)", "ReLU (отрицательное становится 0)"),
    "inside.act.tanh": ("tanh (squeezed between -1 and 1)", "tanh (сжато в промежуток от -1 до 1)"),
    "inside.act.sigmoid": ("sigmoid (squeezed between 0 and 1)", "сигмоида (сжато в промежуток от 0 до 1)"),
    "inside.math.output": ("input x weight, added up: {sum:+.2f}; plus bias {bias:+.2f} = {z:+.2f}; softmax "
                           "(turns the ten outputs into probabilities): <b>{value:.1%}</b>",
                           "вход x вес, сложено: {sum:+.2f}; плюс смещение {bias:+.2f} = {z:+.2f}; softmax "
                           "(превращает десять выходов в вероятности): <b>{value:.1%}</b>"),
    "inside.strongest": ("Its strongest inputs, from layer {layer}:", "Его самые сильные входы, из слоя {layer}:"),
    "inside.strongest.head": ("<th>unit</th><th>value</th><th>x weight</th><th>= adds</th>",
                              "<th>нейрон</th><th>значение</th><th>x вес</th><th>= вклад</th>"),
    "inside.empty": ("Draw a digit to look inside the network.", "Нарисуйте цифру, чтобы заглянуть внутрь сети."),
    "inside.no_unit": ("There is no unit {unit} in that layer: pick a whole number from 0 to {last}.",
                       "В этом слое нет нейрона {unit}: выберите целое число от 0 до {last}."),
    # A public server, part two: corrections bounded per address and server-wide
    "feedback.rate.address": ("That is {limit} drawings in an hour from your address; thank you, and try again later.",
                              "Это уже {limit} рисунков за час с вашего адреса; спасибо, попробуйте позже."),
    "feedback.busy": ("Many drawings are being saved right now; try again in a minute.",
                      "Сейчас сохраняется много рисунков; попробуйте через минуту."),
    "model.not_listed": ("No model {name} in the list; pick one from it.",
                         "Модели {name} нет в списке; выберите из него."),
    # Help for learners: each Train control's `info=` (keyed by TrainConfig's field name) and the
    # collapsible "what am I looking at"
    "help.epochs": ("More epochs: more learning, and more time; past a point the valid loss stops falling.",
                    "Больше эпох: больше обучения и больше времени; с какого-то момента ошибка на валидации "
                    "перестаёт падать."),
    "help.batch_size": ("Digits averaged into each step. Larger: fewer, steadier steps; smaller: more, noisier ones.",
                        "Сколько цифр усредняется в одном шаге. Больше: шагов меньше и они ровнее; меньше: шагов "
                        "больше и они шумнее."),
    "help.lr": ("How far each step moves the weights. Too large: the loss jumps or stops falling; too small: it "
                "falls slowly.",
                "Насколько каждый шаг сдвигает веса. Слишком большая: ошибка скачет или перестаёт падать; "
                "слишком маленькая: падает медленно."),
    "help.lr_factor": ("When the valid loss stops improving, the learning rate is multiplied by this.",
                       "Когда ошибка на валидации перестаёт улучшаться, скорость обучения умножается на это "
                       "число."),
    "help.lr_patience": ("Epochs without a better valid loss before the learning rate is cut (0: cut at once).",
                         "Сколько эпох без улучшения ошибки на валидации ждать, прежде чем уменьшить скорость "
                         "(0: сразу)."),
    "help.augment": ("Trains on digits randomly turned, slanted, resized and thickened, so that it reads "
                     "handwriting beyond MNIST's.",
                     "Обучает на цифрах, случайно повёрнутых, наклонённых, уменьшенных и утолщённых, чтобы сеть "
                     "читала не только почерк MNIST."),
    "help.seed": ("Fixes the random choices (first weights, batch order): the same seed gives the same run.",
                  "Задаёт случайные выборы (начальные веса, порядок батчей): то же зерно даёт то же обучение."),
    "help.hidden": ("Units in each hidden layer, from the input side, separated by commas. Wider or more layers "
                    "can learn more, and take longer.",
                    "Нейронов в каждом скрытом слое, от входа, через запятую. Шире или больше слоёв: сеть может "
                    "выучить больше, но учится дольше."),
    "help.activation": ("What each unit does with its weighted sum: ReLU keeps positives, tanh and sigmoid squash it.",
                        "Что нейрон делает со взвешенной суммой: ReLU оставляет положительное, tanh и sigmoid сжимают."),
    "help.optimizer": ("How the weights follow the gradient: Adam adapts each weight's step, SGD takes plain steps "
                       "with momentum.",
                       "Как веса следуют за градиентом: Adam подбирает шаг каждому весу, SGD делает простые шаги "
                       "с инерцией."),
    "help.title": ("What am I looking at?", "Что я вижу?"),
    "help.body": ("**Train loss**: how wrong the network is on the digits it learns from (cross-entropy; 2.3 is a "
                  "blind guess among ten digits, 0 is always right and sure). **Valid loss**: the same on 5,000 "
                  "digits it never trains on, once per epoch: the honest measure. **Learning rate**: the size of "
                  "each step; it is cut when the valid loss stalls.\n\n"
                  "- **A good run**: both losses fall fast, then slowly, and the valid loss levels off near the "
                  "train loss.\n"
                  "- **Overfitting**: the train loss keeps falling while the valid loss turns up: the network "
                  "learns its training digits by heart. Fewer epochs or augmentation help.\n"
                  "- **Learning rate too large** (try 0.1): the train loss jumps about or stays high, far from 0. "
                  "Too small (try 0.00001): it falls, but slowly.\n\n"
                  "**Your drawing**: the probability of each digit the network gives your Draw-tab drawing after "
                  "each epoch. **First layer**: each tile is one unit's 784 weights as a 28 x 28 picture: red "
                  "where ink raises the unit's input, blue where it lowers it; strokes and blobs appear as it "
                  "learns. **Confusion matrix**: row = the true digit, column = the network's answer; the "
                  "diagonal is right, the rest are its mistakes.",
                  "**Ошибка на обучении**: насколько сеть ошибается на цифрах, на которых учится (перекрёстная "
                  "энтропия; 2,3 — угадывание вслепую из десяти цифр, 0 — всегда верно и уверенно). **Ошибка на "
                  "валидации**: то же на 5 000 цифр, на которых сеть не учится, раз в эпоху: честная мера. "
                  "**Скорость обучения**: размер каждого шага; её уменьшают, когда ошибка на валидации "
                  "перестаёт падать.\n\n"
                  "- **Хорошее обучение**: обе ошибки падают сначала быстро, потом медленно, и ошибка на "
                  "валидации выходит на уровень рядом с ошибкой на обучении.\n"
                  "- **Переобучение**: ошибка на обучении падает, а на валидации начинает расти: сеть заучивает "
                  "свои обучающие цифры. Помогут меньшее число эпох или аугментация.\n"
                  "- **Слишком большая скорость** (попробуйте 0.1): ошибка на обучении скачет или остаётся "
                  "высокой, далеко от 0. Слишком маленькая (попробуйте 0.00001): падает, но медленно.\n\n"
                  "**Ваш рисунок**: вероятность каждой цифры для вашего рисунка из вкладки «Рисовать» после "
                  "каждой эпохи. **Первый слой**: каждая плитка — 784 веса одного нейрона в виде картинки 28 x "
                  "28: красный — где чернила повышают его вход, синий — где понижают; по ходу обучения "
                  "проступают штрихи и пятна. **Матрица ошибок**: строка — верная цифра, столбец — ответ сети; "
                  "на диагонали верные ответы, остальное — ошибки."),
    # Gradio's own footer texts that its Russian translation lacks (the keys are Gradio's)
    "common.runs": ("Runs", "Запуски"),
    "common.runs_description": ("View runs saved in this browser", "Запуски, сохранённые в этом браузере"),
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


# The language of the call being processed, for what is said before a handler sees its request: Gradio
# gives a component's preprocess none (set by note_callers_language).
CALLER_LANG: ContextVar[str] = ContextVar("caller_lang", default=FALLBACK)


def note_callers_language(blocks: gr.Blocks) -> None:
    """Have `blocks` set CALLER_LANG from each call's request before it preprocesses the call's inputs."""
    process_api = blocks.process_api

    async def in_callers_language(*args, request=None, **kwargs):
        first = (request[0] if request else None) if isinstance(request, list) else request   # a batch's
        token = CALLER_LANG.set(lang_of(first))
        try:
            return await process_api(*args, request=request, **kwargs)
        finally:
            CALLER_LANG.reset(token)

    blocks.process_api = in_callers_language


def text(lang: str, key: str, /, **values) -> str:
    """STRINGS[key] in `lang` (FALLBACK for a language without texts), formatted with `values`."""
    pair = STRINGS[key]
    return pair[LANGS.index(lang) if lang in LANGS else 0].format(**values)


SETTING_NAMES = {"parameters": "setting.parameters", "layers": "setting.layers_count"}   # bounds that are no field


def error_text(lang: str, error: Exception) -> str:
    """A library's error for a visitor: its message, led by a sentence in `lang` where one is written; a bad
    setting worded in `lang`, named by its label there and by the name an API caller uses."""
    if isinstance(error, SettingError):
        if lang not in LANGS or lang == FALLBACK:
            return str(error)
        key = SETTING_NAMES.get(error.name, error.name)
        label = text(lang, key).split(" (")[0] if key in STRINGS else ""
        return text(lang, f"setting.{error.rule}", **{**error.words(),
                                                       "name": f"{label} ({error.name})" if label else error.name})
    key = f"lib.{type(error).__name__}"
    return text(lang, key, detail=error) if key in STRINGS else str(error)
